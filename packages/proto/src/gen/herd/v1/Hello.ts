// Original file: proto/herd/v1/agent.proto

import type { Facts as _herd_v1_Facts, Facts__Output as _herd_v1_Facts__Output } from '../../herd/v1/Facts.js';
import type { Long } from '@grpc/proto-loader';

export interface Hello {
  'protocolVersion'?: (number);
  'agentVersion'?: (string);
  'facts'?: (_herd_v1_Facts | null);
  'heldGeneration'?: (number | string | Long);
  'nodeName'?: (string);
  'heldEpoch'?: (string);
}

export interface Hello__Output {
  'protocolVersion': (number);
  'agentVersion': (string);
  'facts': (_herd_v1_Facts__Output | null);
  'heldGeneration': (number);
  'nodeName': (string);
  'heldEpoch': (string);
}
