export * from './agent.js';
export * from './backoff.js';
export * from './enroll.js';
export * from './facts.js';
export * from './state.js';
export * from './metrics.js';
