import type { ProviderSpec } from '@herd/api';
import { ProviderUnavailableError } from './errors.js';
import type { Provider, ProviderContext, ProviderFactory } from './provider.js';

const factories = new Map<string, ProviderFactory>();
const capacities = new Map<string, number>();

/** What a provider kind states about itself when it registers. */
export interface ProviderInfo {
  /**
   * The most machines one cluster of this kind can hold (the local provider's /24 has 252
   * addresses for machines). Validation refuses a cluster that needs more, at its line, rather
   * than let the provider fail half-way; absent: only herd's own bound (LIMITS.machinesPerCluster).
   */
  maxMachinesPerCluster?: number;
}

/** Makes a provider kind available; built-in kinds register when their package is imported. */
export function registerProvider(kind: string, factory: ProviderFactory, info: ProviderInfo = {}): void {
  factories.set(kind, factory);
  if (info.maxMachinesPerCluster !== undefined) capacities.set(kind, info.maxMachinesPerCluster);
  else capacities.delete(kind);
}

/** The capacity a registered kind stated; what validation's `providerCapacity` option takes. */
export function providerCapacity(kind: string): number | undefined {
  return capacities.get(kind);
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
