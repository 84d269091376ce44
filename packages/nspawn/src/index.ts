export * from './errors.js';
export * from './cleanup.js';
export * from './host.js';
export * from './image.js';
export * from './bridge.js';
export * from './machine.js';
export { defaultKubeletCgroupRoot, hostCgroupDirs, removeCgroupTree } from './kubernetes-node.js';
