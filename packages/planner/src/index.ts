export * from './labels.js';
export * from './machines.js';
export * from './node-spec.js';
export * from './lifecycle/types.js';
