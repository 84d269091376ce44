import type { ProviderSpec } from '@herd/api';
import { ProviderUnavailableError } from './errors.js';
import type { Provider, ProviderContext, ProviderFactory } from './provider.js';

const factories = new Map<string, ProviderFactory>();

/** Makes a provider kind available; built-in kinds register when their package is imported. */
export function registerProvider(kind: string, factory: ProviderFactory): void {
  factories.set(kind, factory);
}

export function registeredKinds(): string[] {
  return [...factories.keys()].sort();
}

/** The provider for a cluster's `spec.provider`, configured. */
export async function createProvider(spec: ProviderSpec, context: ProviderContext): Promise<Provider> {
  const factory = factories.get(spec.kind);
  if (!factory) throw new ProviderUnavailableError(`no provider of kind "${spec.kind}" is installed (have: ${registeredKinds().join(', ') || 'none'})`);
  return factory(spec, context);
}
