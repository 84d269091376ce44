// Original file: proto/herd/v1/agent.proto


export interface Operation {
  'id'?: (string);
  'kind'?: (string);
  'args'?: ({[key: string]: string});
}

export interface Operation__Output {
  'id': (string);
  'kind': (string);
  'args': ({[key: string]: string});
}
