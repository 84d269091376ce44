// Original file: proto/herd/v1/admin.proto

import type { NodeStatus as _herd_v1_NodeStatus, NodeStatus__Output as _herd_v1_NodeStatus__Output } from '../../herd/v1/NodeStatus.js';
import type { Long } from '@grpc/proto-loader';

export interface NodeSession {
  'nodeName'?: (string);
  'cluster'?: (string);
  'connected'?: (boolean);
  'unreachable'?: (boolean);
  'connectedSince'?: (string);
  'lastHeartbeat'?: (string);
  'desiredGeneration'?: (number | string | Long);
  'observedGeneration'?: (number | string | Long);
  'agentVersion'?: (string);
  'status'?: (_herd_v1_NodeStatus | null);
  'addresses'?: (string)[];
  'identityGeneration'?: (number | string | Long);
  'identityReplacedAt'?: (string);
}

export interface NodeSession__Output {
  'nodeName': (string);
  'cluster': (string);
  'connected': (boolean);
  'unreachable': (boolean);
  'connectedSince': (string);
  'lastHeartbeat': (string);
  'desiredGeneration': (number);
  'observedGeneration': (number);
  'agentVersion': (string);
  'status': (_herd_v1_NodeStatus__Output | null);
  'addresses': (string)[];
  'identityGeneration': (number);
  'identityReplacedAt': (string);
}
