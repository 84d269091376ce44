import { credentials, status as Status, type ServiceError } from '@grpc/grpc-js';
import { COORDINATOR_CHANNEL_OPTIONS, herdProto } from '@herd/proto';
import type { CreateTokenRequest, CreateTokenResponse__Output, GetStatusResponse__Output } from '@herd/proto';
import { UserError } from '@herd/sys';
import type { CoordinatorStore } from './store.js';

/** An admin call that failed; `code` is the gRPC status, for callers that branch on it. */
export class AdminCallError extends UserError {
  constructor(readonly code: Status, message: string) {
    super(message);
  }
}

export interface AdminClient {
  status(cluster?: string): Promise<GetStatusResponse__Output>;
  createToken(request: CreateTokenRequest): Promise<CreateTokenResponse__Output>;
  close(): void;
}

/**
 * The CLI's way to the coordinator: mutual TLS with the admin certificate from the
 * coordinator's state directory, and a deadline on every call.
 */
export async function connectAdmin(options: { address: string; store: CoordinatorStore; timeoutMs?: number }): Promise<AdminClient> {
  const { ca, admin } = await options.store.loadPki();
  if (!ca || !admin) throw new UserError('no coordinator credentials in the state directory (has a coordinator run with it?)');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const client = new (herdProto().herd.v1.Admin)(
    options.address,
    credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(admin.keyPem), Buffer.from(admin.certPem)),
    COORDINATOR_CHANNEL_OPTIONS,
  );
  const call = <T>(invoke: (deadline: Date, done: (error: ServiceError | null, value?: T) => void) => void) =>
    new Promise<T>((resolve, reject) => {
      invoke(new Date(Date.now() + timeoutMs), (error, value) => {
        if (error) {
          const why = error.code === Status.UNAVAILABLE ? `cannot reach the coordinator at ${options.address}: ${error.details}`
            : error.code === Status.DEADLINE_EXCEEDED ? `the coordinator at ${options.address} did not answer within ${timeoutMs} ms`
              : error.details;
          reject(new AdminCallError(error.code, why));
        } else resolve(value!);
      });
    });
  return {
    status: (cluster = '') => call((deadline, done) => client.GetStatus({ cluster }, { deadline }, done)),
    createToken: (request) => call((deadline, done) => client.CreateToken(request, { deadline }, done)),
    close: () => client.close(),
  };
}
