// Original file: proto/herd/v1/agent.proto

import type { Hello as _herd_v1_Hello, Hello__Output as _herd_v1_Hello__Output } from '../../herd/v1/Hello.js';
import type { NodeStatus as _herd_v1_NodeStatus, NodeStatus__Output as _herd_v1_NodeStatus__Output } from '../../herd/v1/NodeStatus.js';
import type { Heartbeat as _herd_v1_Heartbeat, Heartbeat__Output as _herd_v1_Heartbeat__Output } from '../../herd/v1/Heartbeat.js';
import type { AssignmentAck as _herd_v1_AssignmentAck, AssignmentAck__Output as _herd_v1_AssignmentAck__Output } from '../../herd/v1/AssignmentAck.js';
import type { OperationResult as _herd_v1_OperationResult, OperationResult__Output as _herd_v1_OperationResult__Output } from '../../herd/v1/OperationResult.js';

export interface AgentMessage {
  'hello'?: (_herd_v1_Hello | null);
  'status'?: (_herd_v1_NodeStatus | null);
  'heartbeat'?: (_herd_v1_Heartbeat | null);
  'ack'?: (_herd_v1_AssignmentAck | null);
  'operationResult'?: (_herd_v1_OperationResult | null);
  'body'?: "hello"|"status"|"heartbeat"|"ack"|"operationResult";
}

export interface AgentMessage__Output {
  'hello'?: (_herd_v1_Hello__Output | null);
  'status'?: (_herd_v1_NodeStatus__Output | null);
  'heartbeat'?: (_herd_v1_Heartbeat__Output | null);
  'ack'?: (_herd_v1_AssignmentAck__Output | null);
  'operationResult'?: (_herd_v1_OperationResult__Output | null);
  'body'?: "hello"|"status"|"heartbeat"|"ack"|"operationResult";
}
