// Original file: proto/herd/v1/agent.proto


export interface EnrollResponse {
  'certificatePem'?: (string);
  'caPem'?: (string);
  'cluster'?: (string);
  'nodeName'?: (string);
}

export interface EnrollResponse__Output {
  'certificatePem': (string);
  'caPem': (string);
  'cluster': (string);
  'nodeName': (string);
}
