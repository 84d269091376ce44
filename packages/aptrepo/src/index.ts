export * from './deb.js';
export * from './download.js';
export * from './repository.js';
