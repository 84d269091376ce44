export * from './registry.js';
export * from './reference.js';
