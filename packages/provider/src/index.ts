export * from './provider.js';
export * from './errors.js';
export * from './registry.js';
