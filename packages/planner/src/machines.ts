import { LABEL } from '@herd/provider';

/** A machine as a provider lists it. Only its labels say what it is for. */
export interface ObservedMachine {
  name: string;
  labels: Record<string, string>;
  /** When the provider created it (ISO 8601). */
  createdAt?: string;
}

/** Machines that carry herd's labels for a cluster Git no longer declares: reported, never deleted without `herd down`. */
export function orphanedMachines(clusters: readonly string[], observed: readonly ObservedMachine[]): ObservedMachine[] {
  const declared = new Set(clusters);
  return observed.filter((m) => m.labels[LABEL.cluster] !== undefined && !declared.has(m.labels[LABEL.cluster]!));
}
