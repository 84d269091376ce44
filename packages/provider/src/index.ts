export * from './provider.js';
export * from './errors.js';
export * from './labels.js';
export * from './registry.js';
