// Original file: proto/herd/v1/node.proto


export interface Drift {
  'step'?: (string);
  'item'?: (string);
  'found'?: (string);
  'set'?: (string);
  'time'?: (string);
}

export interface Drift__Output {
  'step': (string);
  'item': (string);
  'found': (string);
  'set': (string);
  'time': (string);
}
