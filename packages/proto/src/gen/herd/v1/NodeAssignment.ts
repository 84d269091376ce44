// Original file: proto/herd/v1/agent.proto

import type { NodeSpec as _herd_v1_NodeSpec, NodeSpec__Output as _herd_v1_NodeSpec__Output } from '../../herd/v1/NodeSpec.js';
import type { Long } from '@grpc/proto-loader';

export interface NodeAssignment {
  'generation'?: (number | string | Long);
  'spec'?: (_herd_v1_NodeSpec | null);
  'epoch'?: (string);
}

export interface NodeAssignment__Output {
  'generation': (number);
  'spec': (_herd_v1_NodeSpec__Output | null);
  'epoch': (string);
}
