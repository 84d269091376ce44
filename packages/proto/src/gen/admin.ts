import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AdminClient as _herd_v1_AdminClient, AdminDefinition as _herd_v1_AdminDefinition } from './herd/v1/Admin.js';
import type { AptSource as _herd_v1_AptSource, AptSource__Output as _herd_v1_AptSource__Output } from './herd/v1/AptSource.js';
import type { Condition as _herd_v1_Condition, Condition__Output as _herd_v1_Condition__Output } from './herd/v1/Condition.js';
import type { ContainerdSpec as _herd_v1_ContainerdSpec, ContainerdSpec__Output as _herd_v1_ContainerdSpec__Output } from './herd/v1/ContainerdSpec.js';
import type { CreateTokenRequest as _herd_v1_CreateTokenRequest, CreateTokenRequest__Output as _herd_v1_CreateTokenRequest__Output } from './herd/v1/CreateTokenRequest.js';
import type { CreateTokenResponse as _herd_v1_CreateTokenResponse, CreateTokenResponse__Output as _herd_v1_CreateTokenResponse__Output } from './herd/v1/CreateTokenResponse.js';
import type { Drift as _herd_v1_Drift, Drift__Output as _herd_v1_Drift__Output } from './herd/v1/Drift.js';
import type { File as _herd_v1_File, File__Output as _herd_v1_File__Output } from './herd/v1/File.js';
import type { GetStatusRequest as _herd_v1_GetStatusRequest, GetStatusRequest__Output as _herd_v1_GetStatusRequest__Output } from './herd/v1/GetStatusRequest.js';
import type { GetStatusResponse as _herd_v1_GetStatusResponse, GetStatusResponse__Output as _herd_v1_GetStatusResponse__Output } from './herd/v1/GetStatusResponse.js';
import type { NodeSession as _herd_v1_NodeSession, NodeSession__Output as _herd_v1_NodeSession__Output } from './herd/v1/NodeSession.js';
import type { NodeSpec as _herd_v1_NodeSpec, NodeSpec__Output as _herd_v1_NodeSpec__Output } from './herd/v1/NodeSpec.js';
import type { NodeStatus as _herd_v1_NodeStatus, NodeStatus__Output as _herd_v1_NodeStatus__Output } from './herd/v1/NodeStatus.js';
import type { Package as _herd_v1_Package, Package__Output as _herd_v1_Package__Output } from './herd/v1/Package.js';
import type { Unit as _herd_v1_Unit, Unit__Output as _herd_v1_Unit__Output } from './herd/v1/Unit.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  herd: {
    v1: {
      Admin: SubtypeConstructor<typeof grpc.Client, _herd_v1_AdminClient> & { service: _herd_v1_AdminDefinition }
      AptSource: MessageTypeDefinition<_herd_v1_AptSource, _herd_v1_AptSource__Output>
      Condition: MessageTypeDefinition<_herd_v1_Condition, _herd_v1_Condition__Output>
      ContainerdSpec: MessageTypeDefinition<_herd_v1_ContainerdSpec, _herd_v1_ContainerdSpec__Output>
      CreateTokenRequest: MessageTypeDefinition<_herd_v1_CreateTokenRequest, _herd_v1_CreateTokenRequest__Output>
      CreateTokenResponse: MessageTypeDefinition<_herd_v1_CreateTokenResponse, _herd_v1_CreateTokenResponse__Output>
      Drift: MessageTypeDefinition<_herd_v1_Drift, _herd_v1_Drift__Output>
      File: MessageTypeDefinition<_herd_v1_File, _herd_v1_File__Output>
      GetStatusRequest: MessageTypeDefinition<_herd_v1_GetStatusRequest, _herd_v1_GetStatusRequest__Output>
      GetStatusResponse: MessageTypeDefinition<_herd_v1_GetStatusResponse, _herd_v1_GetStatusResponse__Output>
      NodeSession: MessageTypeDefinition<_herd_v1_NodeSession, _herd_v1_NodeSession__Output>
      NodeSpec: MessageTypeDefinition<_herd_v1_NodeSpec, _herd_v1_NodeSpec__Output>
      NodeStatus: MessageTypeDefinition<_herd_v1_NodeStatus, _herd_v1_NodeStatus__Output>
      Package: MessageTypeDefinition<_herd_v1_Package, _herd_v1_Package__Output>
      Unit: MessageTypeDefinition<_herd_v1_Unit, _herd_v1_Unit__Output>
    }
  }
}

