// Original file: proto/herd/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface Facts {
  'os'?: (string);
  'osVersion'?: (string);
  'kernel'?: (string);
  'arch'?: (string);
  'cpus'?: (number);
  'memoryBytes'?: (number | string | Long);
  'addresses'?: (string)[];
  'hostname'?: (string);
}

export interface Facts__Output {
  'os': (string);
  'osVersion': (string);
  'kernel': (string);
  'arch': (string);
  'cpus': (number);
  'memoryBytes': (number);
  'addresses': (string)[];
  'hostname': (string);
}
