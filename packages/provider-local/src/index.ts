import type { LocalProviderSpec } from '@herd/api';
import { registerProvider } from '@herd/provider';
import { createLocalProvider } from './local-provider.js';

export { LocalProvider, createLocalProvider, type LocalProviderOptions } from './local-provider.js';

registerProvider('local', (spec, context) => createLocalProvider(spec as LocalProviderSpec, context));
