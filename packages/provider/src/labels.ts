/**
 * Labels every provider stores on the machines it creates for herd: inventory is rebuilt
 * from them (docs/providers.md), so providers and the planner read the same names from here.
 */
export const LABEL = {
  cluster: 'herd.dev/cluster',
  pool: 'herd.dev/pool',
  role: 'herd.dev/role',
  specHash: 'herd.dev/spec-hash',
} as const;
