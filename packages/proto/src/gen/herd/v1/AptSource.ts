// Original file: proto/herd/v1/node.proto


export interface AptSource {
  'name'?: (string);
  'line'?: (string);
  'key'?: (string);
}

export interface AptSource__Output {
  'name': (string);
  'line': (string);
  'key': (string);
}
