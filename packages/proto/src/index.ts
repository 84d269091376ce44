import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type GrpcObject } from '@grpc/grpc-js';
import { fromJSON, type Options } from '@grpc/proto-loader';
import { descriptor } from './gen/descriptor.js';
import type { ProtoGrpcType as AgentProto } from './gen/agent.js';
import type { ProtoGrpcType as AdminProto } from './gen/admin.js';

/** The protocol's source directory (proto/ at the repository root), for tools and tests. */
export const PROTO_DIR = fileURLToPath(new URL('../../../proto', import.meta.url));

/** The wire protocol version an agent announces in Hello and EnrollRequest. */
export const PROTOCOL_VERSION = 1;

/** Must match the flags scripts/gen-proto.mjs passes to proto-loader-gen-types. */
export const LOADER_OPTIONS: Options = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true };

/**
 * Trailing-metadata key on a refused unary call (Enroll, Admin): the coordinator's reason,
 * such as `token-used` or `node-already-enrolled`, for callers that branch on it. Streams
 * carry it in a Refusal message instead.
 */
export const REFUSAL_REASON_KEY = 'herd-refusal-reason';

export * from './address.js';
export * from './operations.js';

export type HerdProto = AgentProto & AdminProto;

let loaded: HerdProto | undefined;

/** The herd.v1 services and messages, loaded from the embedded descriptor (no files read). */
export function herdProto(): HerdProto {
  loaded ??= loadPackageDefinition(fromJSON(descriptor as never, LOADER_OPTIONS)) as GrpcObject as unknown as HerdProto;
  return loaded;
}

export type * from './gen/herd/v1/NodeSpec.js';
export type * from './gen/herd/v1/NodeStatus.js';
export type * from './gen/herd/v1/Condition.js';
export type * from './gen/herd/v1/Drift.js';
export type * from './gen/herd/v1/Package.js';
export type * from './gen/herd/v1/File.js';
export type * from './gen/herd/v1/Unit.js';
export type * from './gen/herd/v1/AptSource.js';
export type * from './gen/herd/v1/ContainerdSpec.js';
export type * from './gen/herd/v1/AgentMessage.js';
export type * from './gen/herd/v1/CoordinatorMessage.js';
export type * from './gen/herd/v1/Hello.js';
export type * from './gen/herd/v1/Facts.js';
export type * from './gen/herd/v1/Heartbeat.js';
export type * from './gen/herd/v1/NodeAssignment.js';
export type * from './gen/herd/v1/AssignmentAck.js';
export type * from './gen/herd/v1/Operation.js';
export type * from './gen/herd/v1/OperationResult.js';
export type * from './gen/herd/v1/Refusal.js';
export type * from './gen/herd/v1/EnrollRequest.js';
export type * from './gen/herd/v1/EnrollResponse.js';
export type * from './gen/herd/v1/GetStatusRequest.js';
export type * from './gen/herd/v1/GetStatusResponse.js';
export type * from './gen/herd/v1/NodeSession.js';
export type * from './gen/herd/v1/CreateTokenRequest.js';
export type * from './gen/herd/v1/CreateTokenResponse.js';
export type * from './gen/herd/v1/Admin.js';
export type * from './gen/herd/v1/AgentSession.js';
export type * from './gen/herd/v1/Enrollment.js';
