export * from './engine.js';
export * from './step.js';
export * from './package-manager.js';
export { aptPackageManager } from './apt.js';
export { rebootRequired, compareKernelReleases } from './reboot.js';
export * from './steps/index.js';
