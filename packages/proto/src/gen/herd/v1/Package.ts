// Original file: proto/herd/v1/node.proto


export interface Package {
  'name'?: (string);
  'version'?: (string);
  'hold'?: (boolean);
  'absent'?: (boolean);
  'allowDowngrade'?: (boolean);
}

export interface Package__Output {
  'name': (string);
  'version': (string);
  'hold': (boolean);
  'absent': (boolean);
  'allowDowngrade': (boolean);
}
