// Original file: proto/herd/v1/node.proto

import type { Condition as _herd_v1_Condition, Condition__Output as _herd_v1_Condition__Output } from '../../herd/v1/Condition.js';
import type { Drift as _herd_v1_Drift, Drift__Output as _herd_v1_Drift__Output } from '../../herd/v1/Drift.js';
import type { Long } from '@grpc/proto-loader';

export interface NodeStatus {
  'observedGeneration'?: (number | string | Long);
  'commit'?: (string);
  'conditions'?: (_herd_v1_Condition)[];
  'driftCorrected'?: (_herd_v1_Drift)[];
  'lastError'?: (string);
  'rebootRequired'?: (boolean);
  'lastRoundTime'?: (string);
  'dryRun'?: (boolean);
  'actions'?: (string)[];
}

export interface NodeStatus__Output {
  'observedGeneration': (number);
  'commit': (string);
  'conditions': (_herd_v1_Condition__Output)[];
  'driftCorrected': (_herd_v1_Drift__Output)[];
  'lastError': (string);
  'rebootRequired': (boolean);
  'lastRoundTime': (string);
  'dryRun': (boolean);
  'actions': (string)[];
}
