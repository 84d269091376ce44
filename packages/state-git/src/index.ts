export * from './layout.js';
export * from './age.js';
export * from './git-ref.js';
export * from './sync.js';
