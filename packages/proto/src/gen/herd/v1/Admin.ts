// Original file: proto/herd/v1/admin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CreateTokenRequest as _herd_v1_CreateTokenRequest, CreateTokenRequest__Output as _herd_v1_CreateTokenRequest__Output } from '../../herd/v1/CreateTokenRequest.js';
import type { CreateTokenResponse as _herd_v1_CreateTokenResponse, CreateTokenResponse__Output as _herd_v1_CreateTokenResponse__Output } from '../../herd/v1/CreateTokenResponse.js';
import type { GetStatusRequest as _herd_v1_GetStatusRequest, GetStatusRequest__Output as _herd_v1_GetStatusRequest__Output } from '../../herd/v1/GetStatusRequest.js';
import type { GetStatusResponse as _herd_v1_GetStatusResponse, GetStatusResponse__Output as _herd_v1_GetStatusResponse__Output } from '../../herd/v1/GetStatusResponse.js';

export interface AdminClient extends grpc.Client {
  CreateToken(argument: _herd_v1_CreateTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_herd_v1_CreateTokenResponse__Output>): grpc.ClientUnaryCall;
  CreateToken(argument: _herd_v1_CreateTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_herd_v1_CreateTokenResponse__Output>): grpc.ClientUnaryCall;
  CreateToken(argument: _herd_v1_CreateTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_herd_v1_CreateTokenResponse__Output>): grpc.ClientUnaryCall;
  CreateToken(argument: _herd_v1_CreateTokenRequest, callback: grpc.requestCallback<_herd_v1_CreateTokenResponse__Output>): grpc.ClientUnaryCall;
  createToken(argument: _herd_v1_CreateTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_herd_v1_CreateTokenResponse__Output>): grpc.ClientUnaryCall;
  createToken(argument: _herd_v1_CreateTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_herd_v1_CreateTokenResponse__Output>): grpc.ClientUnaryCall;
  createToken(argument: _herd_v1_CreateTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_herd_v1_CreateTokenResponse__Output>): grpc.ClientUnaryCall;
  createToken(argument: _herd_v1_CreateTokenRequest, callback: grpc.requestCallback<_herd_v1_CreateTokenResponse__Output>): grpc.ClientUnaryCall;
  
  GetStatus(argument: _herd_v1_GetStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_herd_v1_GetStatusResponse__Output>): grpc.ClientUnaryCall;
  GetStatus(argument: _herd_v1_GetStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_herd_v1_GetStatusResponse__Output>): grpc.ClientUnaryCall;
  GetStatus(argument: _herd_v1_GetStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_herd_v1_GetStatusResponse__Output>): grpc.ClientUnaryCall;
  GetStatus(argument: _herd_v1_GetStatusRequest, callback: grpc.requestCallback<_herd_v1_GetStatusResponse__Output>): grpc.ClientUnaryCall;
  getStatus(argument: _herd_v1_GetStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_herd_v1_GetStatusResponse__Output>): grpc.ClientUnaryCall;
  getStatus(argument: _herd_v1_GetStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_herd_v1_GetStatusResponse__Output>): grpc.ClientUnaryCall;
  getStatus(argument: _herd_v1_GetStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_herd_v1_GetStatusResponse__Output>): grpc.ClientUnaryCall;
  getStatus(argument: _herd_v1_GetStatusRequest, callback: grpc.requestCallback<_herd_v1_GetStatusResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface AdminHandlers extends grpc.UntypedServiceImplementation {
  CreateToken: grpc.handleUnaryCall<_herd_v1_CreateTokenRequest__Output, _herd_v1_CreateTokenResponse>;
  
  GetStatus: grpc.handleUnaryCall<_herd_v1_GetStatusRequest__Output, _herd_v1_GetStatusResponse>;
  
}

export interface AdminDefinition extends grpc.ServiceDefinition {
  CreateToken: MethodDefinition<_herd_v1_CreateTokenRequest, _herd_v1_CreateTokenResponse, _herd_v1_CreateTokenRequest__Output, _herd_v1_CreateTokenResponse__Output>
  GetStatus: MethodDefinition<_herd_v1_GetStatusRequest, _herd_v1_GetStatusResponse, _herd_v1_GetStatusRequest__Output, _herd_v1_GetStatusResponse__Output>
}
