import type { StaticProviderSpec } from '@herd/api';
import { registerProvider } from '@herd/provider';
import { createStaticProvider } from './static-provider.js';

export { StaticProvider, createStaticProvider, shellQuote, type StaticProviderOptions } from './static-provider.js';

registerProvider('static', (spec, context) => createStaticProvider(spec as StaticProviderSpec, context));
