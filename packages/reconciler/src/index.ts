export * from './reconciler.js';
export * from './status.js';
export type { KubernetesStatus } from './kubernetes/lifecycle.js';
