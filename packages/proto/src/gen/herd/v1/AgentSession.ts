// Original file: proto/herd/v1/agent.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AgentMessage as _herd_v1_AgentMessage, AgentMessage__Output as _herd_v1_AgentMessage__Output } from '../../herd/v1/AgentMessage.js';
import type { CoordinatorMessage as _herd_v1_CoordinatorMessage, CoordinatorMessage__Output as _herd_v1_CoordinatorMessage__Output } from '../../herd/v1/CoordinatorMessage.js';

export interface AgentSessionClient extends grpc.Client {
  Connect(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_herd_v1_AgentMessage, _herd_v1_CoordinatorMessage__Output>;
  Connect(options?: grpc.CallOptions): grpc.ClientDuplexStream<_herd_v1_AgentMessage, _herd_v1_CoordinatorMessage__Output>;
  connect(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_herd_v1_AgentMessage, _herd_v1_CoordinatorMessage__Output>;
  connect(options?: grpc.CallOptions): grpc.ClientDuplexStream<_herd_v1_AgentMessage, _herd_v1_CoordinatorMessage__Output>;
  
}

export interface AgentSessionHandlers extends grpc.UntypedServiceImplementation {
  Connect: grpc.handleBidiStreamingCall<_herd_v1_AgentMessage__Output, _herd_v1_CoordinatorMessage>;
  
}

export interface AgentSessionDefinition extends grpc.ServiceDefinition {
  Connect: MethodDefinition<_herd_v1_AgentMessage, _herd_v1_CoordinatorMessage, _herd_v1_AgentMessage__Output, _herd_v1_CoordinatorMessage__Output>
}
