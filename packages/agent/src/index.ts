export * from './agent.js';
export * from './enroll.js';
export * from './facts.js';
export * from './state.js';
export * from './metrics.js';
export * from './operations.js';
export * from './operation-kinds.js';
export * from './etcd-gateway.js';
