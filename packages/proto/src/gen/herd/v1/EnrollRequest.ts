// Original file: proto/herd/v1/agent.proto


export interface EnrollRequest {
  'token'?: (string);
  'nodeName'?: (string);
  'csrPem'?: (string);
  'protocolVersion'?: (number);
  'hostname'?: (string);
}

export interface EnrollRequest__Output {
  'token': (string);
  'nodeName': (string);
  'csrPem': (string);
  'protocolVersion': (number);
  'hostname': (string);
}
