// Original file: proto/herd/v1/admin.proto


export interface GetStatusRequest {
  'cluster'?: (string);
}

export interface GetStatusRequest__Output {
  'cluster': (string);
}
