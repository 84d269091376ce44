// Original file: proto/herd/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface AssignmentAck {
  'generation'?: (number | string | Long);
}

export interface AssignmentAck__Output {
  'generation': (number);
}
