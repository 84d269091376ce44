import type { LocalProviderSpec } from '@herd/api';
import { registerProvider } from '@herd/provider';
import { createLocalProvider, VIRTUAL_IP_HOST } from './local-provider.js';

export { LocalProvider, createLocalProvider, VIRTUAL_IP_HOST, type LocalProviderOptions } from './local-provider.js';
export * from './platform.js';
export {
  BUILD_SCRIPT, buildRecipe, builtRecipe, kubernetesCacheDir, prepareKubernetes, pushImages, scriptBuildRunner, versionDebs, type BuildRunner, type Prepared, type PrepareOptions,
} from './kubernetes.js';

// Machines get hosts 2..253 of the cluster's /24 (1 is this host, 254 the virtual IP).
registerProvider('local', (spec, context) => createLocalProvider(spec as LocalProviderSpec, context), { maxMachinesPerCluster: VIRTUAL_IP_HOST - 2 });
