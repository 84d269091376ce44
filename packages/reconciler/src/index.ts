export * from './reconciler.js';
export * from './status.js';
export * from './view.js';
export type { KubernetesStatus } from './kubernetes/lifecycle.js';
export { ClusterLifecycle, type AgentChannel, type NodeVersions, type OperationOutcome } from './kubernetes/lifecycle.js';
export { NODE_STATES, nodeState, ReconcilerMetrics, type NodeState } from './metrics.js';
export { observeForPlan, planForCluster, specChanges, type PlanClusterInput, type PlanWorld, type PlanWorldInput } from './plan.js';
