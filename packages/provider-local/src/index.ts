import type { LocalProviderSpec } from '@herd/api';
import { registerProvider } from '@herd/provider';
import { createLocalProvider } from './local-provider.js';

export { LocalProvider, createLocalProvider, VIRTUAL_IP_HOST, type LocalProviderOptions } from './local-provider.js';
export * from './platform.js';
export { BUILD_SCRIPT, kubernetesCacheDir, prepareKubernetes, scriptBuildRunner, versionDebs, type BuildRunner, type PrepareOptions } from './kubernetes.js';

registerProvider('local', (spec, context) => createLocalProvider(spec as LocalProviderSpec, context));
