// Original file: proto/herd/v1/node.proto


export interface Unit {
  'name'?: (string);
  'content'?: (string);
  'enabled'?: (boolean);
  'running'?: (boolean);
  'restartOn'?: (string)[];
}

export interface Unit__Output {
  'name': (string);
  'content': (string);
  'enabled': (boolean);
  'running': (boolean);
  'restartOn': (string)[];
}
