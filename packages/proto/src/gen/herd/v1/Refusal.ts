// Original file: proto/herd/v1/agent.proto


export interface Refusal {
  'reason'?: (string);
  'message'?: (string);
}

export interface Refusal__Output {
  'reason': (string);
  'message': (string);
}
