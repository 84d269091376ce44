// Original file: proto/herd/v1/agent.proto

import type { NodeAssignment as _herd_v1_NodeAssignment, NodeAssignment__Output as _herd_v1_NodeAssignment__Output } from '../../herd/v1/NodeAssignment.js';
import type { Operation as _herd_v1_Operation, Operation__Output as _herd_v1_Operation__Output } from '../../herd/v1/Operation.js';
import type { Refusal as _herd_v1_Refusal, Refusal__Output as _herd_v1_Refusal__Output } from '../../herd/v1/Refusal.js';

export interface CoordinatorMessage {
  'assignment'?: (_herd_v1_NodeAssignment | null);
  'operation'?: (_herd_v1_Operation | null);
  'refusal'?: (_herd_v1_Refusal | null);
  'body'?: "assignment"|"operation"|"refusal";
}

export interface CoordinatorMessage__Output {
  'assignment'?: (_herd_v1_NodeAssignment__Output | null);
  'operation'?: (_herd_v1_Operation__Output | null);
  'refusal'?: (_herd_v1_Refusal__Output | null);
  'body'?: "assignment"|"operation"|"refusal";
}
