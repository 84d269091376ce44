// Original file: proto/herd/v1/agent.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { EnrollRequest as _herd_v1_EnrollRequest, EnrollRequest__Output as _herd_v1_EnrollRequest__Output } from '../../herd/v1/EnrollRequest.js';
import type { EnrollResponse as _herd_v1_EnrollResponse, EnrollResponse__Output as _herd_v1_EnrollResponse__Output } from '../../herd/v1/EnrollResponse.js';

export interface EnrollmentClient extends grpc.Client {
  Enroll(argument: _herd_v1_EnrollRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_herd_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  Enroll(argument: _herd_v1_EnrollRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_herd_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  Enroll(argument: _herd_v1_EnrollRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_herd_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  Enroll(argument: _herd_v1_EnrollRequest, callback: grpc.requestCallback<_herd_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  enroll(argument: _herd_v1_EnrollRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_herd_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  enroll(argument: _herd_v1_EnrollRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_herd_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  enroll(argument: _herd_v1_EnrollRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_herd_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  enroll(argument: _herd_v1_EnrollRequest, callback: grpc.requestCallback<_herd_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface EnrollmentHandlers extends grpc.UntypedServiceImplementation {
  Enroll: grpc.handleUnaryCall<_herd_v1_EnrollRequest__Output, _herd_v1_EnrollResponse>;
  
}

export interface EnrollmentDefinition extends grpc.ServiceDefinition {
  Enroll: MethodDefinition<_herd_v1_EnrollRequest, _herd_v1_EnrollResponse, _herd_v1_EnrollRequest__Output, _herd_v1_EnrollResponse__Output>
}
