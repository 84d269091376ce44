// Original file: proto/herd/v1/node.proto


export interface File {
  'path'?: (string);
  'content'?: (string);
  'mode'?: (number);
  'owner'?: (string);
  'group'?: (string);
}

export interface File__Output {
  'path': (string);
  'content': (string);
  'mode': (number);
  'owner': (string);
  'group': (string);
}
