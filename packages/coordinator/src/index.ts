export * from './store.js';
export * from './secrets.js';
export * from './tokens.js';
export * from './sessions.js';
export * from './server.js';
export * from './admin-client.js';
export * from './operations.js';
