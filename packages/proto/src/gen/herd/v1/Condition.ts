// Original file: proto/herd/v1/node.proto


export interface Condition {
  'type'?: (string);
  'status'?: (string);
  'reason'?: (string);
  'message'?: (string);
  'lastTransitionTime'?: (string);
}

export interface Condition__Output {
  'type': (string);
  'status': (string);
  'reason': (string);
  'message': (string);
  'lastTransitionTime': (string);
}
