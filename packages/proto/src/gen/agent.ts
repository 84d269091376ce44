import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AgentMessage as _herd_v1_AgentMessage, AgentMessage__Output as _herd_v1_AgentMessage__Output } from './herd/v1/AgentMessage.js';
import type { AgentSessionClient as _herd_v1_AgentSessionClient, AgentSessionDefinition as _herd_v1_AgentSessionDefinition } from './herd/v1/AgentSession.js';
import type { AptSource as _herd_v1_AptSource, AptSource__Output as _herd_v1_AptSource__Output } from './herd/v1/AptSource.js';
import type { AssignmentAck as _herd_v1_AssignmentAck, AssignmentAck__Output as _herd_v1_AssignmentAck__Output } from './herd/v1/AssignmentAck.js';
import type { Condition as _herd_v1_Condition, Condition__Output as _herd_v1_Condition__Output } from './herd/v1/Condition.js';
import type { ContainerdSpec as _herd_v1_ContainerdSpec, ContainerdSpec__Output as _herd_v1_ContainerdSpec__Output } from './herd/v1/ContainerdSpec.js';
import type { CoordinatorMessage as _herd_v1_CoordinatorMessage, CoordinatorMessage__Output as _herd_v1_CoordinatorMessage__Output } from './herd/v1/CoordinatorMessage.js';
import type { Drift as _herd_v1_Drift, Drift__Output as _herd_v1_Drift__Output } from './herd/v1/Drift.js';
import type { EnrollRequest as _herd_v1_EnrollRequest, EnrollRequest__Output as _herd_v1_EnrollRequest__Output } from './herd/v1/EnrollRequest.js';
import type { EnrollResponse as _herd_v1_EnrollResponse, EnrollResponse__Output as _herd_v1_EnrollResponse__Output } from './herd/v1/EnrollResponse.js';
import type { EnrollmentClient as _herd_v1_EnrollmentClient, EnrollmentDefinition as _herd_v1_EnrollmentDefinition } from './herd/v1/Enrollment.js';
import type { Facts as _herd_v1_Facts, Facts__Output as _herd_v1_Facts__Output } from './herd/v1/Facts.js';
import type { File as _herd_v1_File, File__Output as _herd_v1_File__Output } from './herd/v1/File.js';
import type { Heartbeat as _herd_v1_Heartbeat, Heartbeat__Output as _herd_v1_Heartbeat__Output } from './herd/v1/Heartbeat.js';
import type { Hello as _herd_v1_Hello, Hello__Output as _herd_v1_Hello__Output } from './herd/v1/Hello.js';
import type { NodeAssignment as _herd_v1_NodeAssignment, NodeAssignment__Output as _herd_v1_NodeAssignment__Output } from './herd/v1/NodeAssignment.js';
import type { NodeSpec as _herd_v1_NodeSpec, NodeSpec__Output as _herd_v1_NodeSpec__Output } from './herd/v1/NodeSpec.js';
import type { NodeStatus as _herd_v1_NodeStatus, NodeStatus__Output as _herd_v1_NodeStatus__Output } from './herd/v1/NodeStatus.js';
import type { Operation as _herd_v1_Operation, Operation__Output as _herd_v1_Operation__Output } from './herd/v1/Operation.js';
import type { OperationResult as _herd_v1_OperationResult, OperationResult__Output as _herd_v1_OperationResult__Output } from './herd/v1/OperationResult.js';
import type { Package as _herd_v1_Package, Package__Output as _herd_v1_Package__Output } from './herd/v1/Package.js';
import type { Refusal as _herd_v1_Refusal, Refusal__Output as _herd_v1_Refusal__Output } from './herd/v1/Refusal.js';
import type { Unit as _herd_v1_Unit, Unit__Output as _herd_v1_Unit__Output } from './herd/v1/Unit.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  herd: {
    v1: {
      AgentMessage: MessageTypeDefinition<_herd_v1_AgentMessage, _herd_v1_AgentMessage__Output>
      AgentSession: SubtypeConstructor<typeof grpc.Client, _herd_v1_AgentSessionClient> & { service: _herd_v1_AgentSessionDefinition }
      AptSource: MessageTypeDefinition<_herd_v1_AptSource, _herd_v1_AptSource__Output>
      AssignmentAck: MessageTypeDefinition<_herd_v1_AssignmentAck, _herd_v1_AssignmentAck__Output>
      Condition: MessageTypeDefinition<_herd_v1_Condition, _herd_v1_Condition__Output>
      ContainerdSpec: MessageTypeDefinition<_herd_v1_ContainerdSpec, _herd_v1_ContainerdSpec__Output>
      CoordinatorMessage: MessageTypeDefinition<_herd_v1_CoordinatorMessage, _herd_v1_CoordinatorMessage__Output>
      Drift: MessageTypeDefinition<_herd_v1_Drift, _herd_v1_Drift__Output>
      EnrollRequest: MessageTypeDefinition<_herd_v1_EnrollRequest, _herd_v1_EnrollRequest__Output>
      EnrollResponse: MessageTypeDefinition<_herd_v1_EnrollResponse, _herd_v1_EnrollResponse__Output>
      Enrollment: SubtypeConstructor<typeof grpc.Client, _herd_v1_EnrollmentClient> & { service: _herd_v1_EnrollmentDefinition }
      Facts: MessageTypeDefinition<_herd_v1_Facts, _herd_v1_Facts__Output>
      File: MessageTypeDefinition<_herd_v1_File, _herd_v1_File__Output>
      Heartbeat: MessageTypeDefinition<_herd_v1_Heartbeat, _herd_v1_Heartbeat__Output>
      Hello: MessageTypeDefinition<_herd_v1_Hello, _herd_v1_Hello__Output>
      NodeAssignment: MessageTypeDefinition<_herd_v1_NodeAssignment, _herd_v1_NodeAssignment__Output>
      NodeSpec: MessageTypeDefinition<_herd_v1_NodeSpec, _herd_v1_NodeSpec__Output>
      NodeStatus: MessageTypeDefinition<_herd_v1_NodeStatus, _herd_v1_NodeStatus__Output>
      Operation: MessageTypeDefinition<_herd_v1_Operation, _herd_v1_Operation__Output>
      OperationResult: MessageTypeDefinition<_herd_v1_OperationResult, _herd_v1_OperationResult__Output>
      Package: MessageTypeDefinition<_herd_v1_Package, _herd_v1_Package__Output>
      Refusal: MessageTypeDefinition<_herd_v1_Refusal, _herd_v1_Refusal__Output>
      Unit: MessageTypeDefinition<_herd_v1_Unit, _herd_v1_Unit__Output>
    }
  }
}

