export * from './log.js';
export * from './exec.js';
export * from './files.js';
export * from './clock.js';
export * from './errors.js';
export * from './duration.js';
export * from './paths.js';
export * from './process.js';
