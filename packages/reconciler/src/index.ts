export * from './reconciler.js';
export * from './status.js';
