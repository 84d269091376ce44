// Original file: proto/herd/v1/agent.proto


export interface OperationResult {
  'id'?: (string);
  'ok'?: (boolean);
  'message'?: (string);
  'outputs'?: ({[key: string]: string});
}

export interface OperationResult__Output {
  'id': (string);
  'ok': (boolean);
  'message': (string);
  'outputs': ({[key: string]: string});
}
