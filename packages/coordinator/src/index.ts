export * from './store.js';
export * from './tokens.js';
export * from './sessions.js';
export * from './server.js';
export * from './admin-client.js';
