export * from './platform.js';
export * from './errors.js';
export * from './version.js';
export * from './secrets.js';
export * from './config.js';
export * from './containerd.js';
export * from './endpoint.js';
export * from './node.js';
