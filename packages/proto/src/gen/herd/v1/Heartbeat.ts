// Original file: proto/herd/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface Heartbeat {
  'observedGeneration'?: (number | string | Long);
}

export interface Heartbeat__Output {
  'observedGeneration': (number);
}
