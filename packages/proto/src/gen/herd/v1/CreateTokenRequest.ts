// Original file: proto/herd/v1/admin.proto


export interface CreateTokenRequest {
  'cluster'?: (string);
  'nodeName'?: (string);
  'ttlSeconds'?: (number);
}

export interface CreateTokenRequest__Output {
  'cluster': (string);
  'nodeName': (string);
  'ttlSeconds': (number);
}
