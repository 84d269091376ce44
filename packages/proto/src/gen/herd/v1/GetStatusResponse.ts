// Original file: proto/herd/v1/admin.proto

import type { NodeSession as _herd_v1_NodeSession, NodeSession__Output as _herd_v1_NodeSession__Output } from '../../herd/v1/NodeSession.js';

export interface GetStatusResponse {
  'commit'?: (string);
  'nodes'?: (_herd_v1_NodeSession)[];
  'errors'?: (string)[];
}

export interface GetStatusResponse__Output {
  'commit': (string);
  'nodes': (_herd_v1_NodeSession__Output)[];
  'errors': (string)[];
}
