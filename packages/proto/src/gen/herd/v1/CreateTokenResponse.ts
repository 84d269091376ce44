// Original file: proto/herd/v1/admin.proto


export interface CreateTokenResponse {
  'token'?: (string);
  'expires'?: (string);
  'caHash'?: (string);
}

export interface CreateTokenResponse__Output {
  'token': (string);
  'expires': (string);
  'caHash': (string);
}
