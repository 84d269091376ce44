/**
 * The herd.dev/v1 desired-state schema: the one definition from which the TypeScript
 * types (Static), the validator (validate.ts walks these objects), the defaults (each
 * `default` here) and the editor JSON Schema (jsonschema.ts) all come.
 */
import { Type, type Static, type TSchema, type TString, type TUnsafe } from '@sinclair/typebox';
import { FORMATS, type FormatName } from './formats.js';
import { LIMITS } from './limits.js';

export const API_VERSION = 'herd.dev/v1';

/** A string of one of our formats; `expected` feeds error messages. */
function Str<F extends FormatName>(format: F, options: { default?: string; description?: string } = {}): TString {
  return Type.String({ format, pattern: FORMATS[format].pattern, ...options });
}

function Enum<const T extends readonly (string | number)[]>(values: T, options: { default?: T[number]; description?: string } = {}): TUnsafe<T[number]> {
  const type = typeof values[0] === 'number' ? 'integer' : 'string';
  return Type.Unsafe<T[number]>({ type, enum: [...values], ...options });
}

/** A mapping whose keys have a format (labels, sysctls, packages): merged key by key across profile and cluster. */
function MapOf<V extends TSchema>(key: FormatName, value: V, options: { description?: string } = {}): TUnsafe<Record<string, Static<V>>> {
  return Type.Unsafe<Record<string, Static<V>>>({
    type: 'object',
    propertyNames: Str(key),
    additionalProperties: value,
    default: {},
    ...options,
  });
}

function IntOrPercent(options: { default: number | string; description: string }) {
  return Type.Union([Type.Integer({ minimum: 0 }), Str('percent')], {
    expected: 'a whole number of nodes (0 or more) or a percentage such as 25%',
    ...options,
  });
}

const strict = { additionalProperties: false } as const;

export const MachineShape = Type.Object({
  type: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', description: "The provider's machine type, for example cx22." })),
  cpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 512 })),
  memory: Type.Optional(Str('quantity')),
  disk: Type.Optional(Str('quantity')),
}, { ...strict, description: 'Size of the machines; each provider maps it to what it offers.' });

export const Taint = Type.Object({
  key: Str('label-key'),
  value: Type.Optional(Str('label-value')),
  effect: Enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const),
}, strict);

export const Pool = Type.Object({
  name: Str('dns-label', { description: 'Unique within the cluster; part of every machine name.' }),
  replicas: Type.Integer({ minimum: 0, maximum: 1000 }),
  machine: Type.Optional(MachineShape),
  labels: MapOf('label-key', Str('label-value'), { description: 'Kubernetes labels on every node of the pool.' }),
  taints: Type.Array(Taint, { default: [] }),
}, strict);

export const LocalProvider = Type.Object({
  kind: Type.Literal('local'),
  subnet: Type.Optional(Str('cidr', { description: 'The /24 for this cluster\'s bridge; default: one chosen per cluster.' })),
}, { ...strict, description: 'systemd-nspawn machines on this host (the embedded default).' });

export const StaticMachine = Type.Object({
  name: Str('dns-label'),
  address: Str('ipv4'),
  port: Type.Integer({ minimum: 1, maximum: 65535, default: 22 }),
  hostKey: Type.Optional(Str('ssh-host-key', { description: 'Pinned SSH host key; recorded on first contact when absent.' })),
}, strict);

export const StaticProvider = Type.Object({
  kind: Type.Literal('static'),
  user: Type.String({ pattern: '^[a-z_][a-z0-9_-]{0,31}$', default: 'root' }),
  keyFile: Str('file-path', { description: 'SSH private key file, relative to the repository (keep it encrypted or out of Git).' }),
  machines: Type.Array(StaticMachine, { minItems: 1, maxItems: LIMITS.machinesPerCluster }),
}, { ...strict, description: 'Existing machines reached over SSH.' });

export const Provider = Type.Union([LocalProvider, StaticProvider], { default: { kind: 'local' }, discriminator: 'kind' });

export const Networking = Type.Object({
  podCIDR: Str('cidr', { default: '10.244.0.0/16' }),
  serviceCIDR: Str('cidr', { default: '10.96.0.0/12' }),
  dnsDomain: Str('dns-domain', { default: 'cluster.local' }),
}, { ...strict, default: {} });

export const Kubernetes = Type.Object({
  version: Str('kubernetes-version'),
  networking: Networking,
  controlPlaneEndpoint: Type.Optional(Str('endpoint', {
    description: 'Stable API server address; default: a virtual IP with 3 or 5 control-plane replicas, the machine\'s address with 1.',
  })),
}, strict);

export const ControlPlane = Type.Object({
  replicas: Enum([1, 3, 5] as const, { default: 1, description: 'etcd needs an odd count for quorum.' }),
  machine: Type.Optional(MachineShape),
}, { ...strict, default: {} });

export const OperatingSystem = Type.Object({
  packages: MapOf('debian-package', Str('debian-version'), { description: 'Debian packages at exact versions, installed and held.' }),
  absentPackages: Type.Array(Str('debian-package'), { default: [], description: 'Packages removed when installed.' }),
  sysctls: MapOf('sysctl-key', Type.Union([Str('sysctl-value'), Type.Integer()], { expected: 'a sysctl value (a number or a string)' })),
  kernelModules: Type.Array(Str('kernel-module'), { default: [] }),
}, { ...strict, default: {} });

export const UpgradePolicy = Type.Object({
  maxUnavailable: IntOrPercent({ default: 1, description: 'Nodes of a pool disrupted at once, for any cause.' }),
  maxSurge: IntOrPercent({ default: 0, description: 'Extra machines a pool may have during a rollout.' }),
  drainTimeout: Str('duration', { default: '10m' }),
}, { ...strict, default: {} });

export const HealthChecks = Type.Object({
  startupTimeout: Str('duration', { default: '10m', description: 'A machine whose node has not joined by then is replaced.' }),
  unhealthyTimeout: Str('duration', { default: '5m', description: 'A node NotReady or unreported for this long is replaced.' }),
  maxUnhealthy: IntOrPercent({ default: '40%', description: 'Above this share of unhealthy nodes, remediation pauses.' }),
}, { ...strict, default: {} });

export const Metadata = Type.Object({
  name: Str('dns-label'),
  labels: MapOf('label-key', Str('label-value')),
}, strict);

const specFields = {
  provider: Provider,
  kubernetes: Kubernetes,
  controlPlane: ControlPlane,
  os: OperatingSystem,
  upgrade: UpgradePolicy,
  health: HealthChecks,
};

export const ClusterSpec = Type.Object({
  profile: Type.Optional(Str('dns-label', { description: 'profiles/NAME.yaml: the shared settings this cluster starts from.' })),
  ...specFields,
  pools: Type.Array(Pool, { default: [], maxItems: LIMITS.poolsPerCluster }),
}, strict);

/** A profile holds the settings clusters share; it cannot name pools or another profile. */
export const ProfileSpec = Type.Object(specFields, strict);

/** A file's object: the same envelope for every kind, the spec its own. */
function Document<K extends string, S extends TSchema>(kind: K, spec: S) {
  return Type.Object({ apiVersion: Type.Literal(API_VERSION), kind: Type.Literal(kind), metadata: Metadata, spec }, strict);
}

export const Cluster = Document('Cluster', ClusterSpec);
export const Profile = Document('Profile', ProfileSpec);

export const KINDS = { Cluster, Profile } as const;
export type Kind = keyof typeof KINDS;

/** A cluster with its profile and every default applied. */
export type Cluster = Static<typeof Cluster>;
export type ClusterSpec = Static<typeof ClusterSpec>;
export type Profile = Static<typeof Profile>;
export type Pool = Static<typeof Pool>;
export type Taint = Static<typeof Taint>;
export type MachineShape = Static<typeof MachineShape>;
export type ProviderSpec = Static<typeof Provider>;
export type LocalProviderSpec = Static<typeof LocalProvider>;
export type StaticProviderSpec = Static<typeof StaticProvider>;
export type UpgradePolicy = Static<typeof UpgradePolicy>;
export type HealthChecks = Static<typeof HealthChecks>;
export type OperatingSystem = Static<typeof OperatingSystem>;
