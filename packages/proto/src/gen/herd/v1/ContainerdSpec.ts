// Original file: proto/herd/v1/node.proto


export interface ContainerdSpec {
  'enabled'?: (boolean);
  'sandboxImage'?: (string);
}

export interface ContainerdSpec__Output {
  'enabled': (boolean);
  'sandboxImage': (string);
}
