/**
 * The one-shot operations the coordinator grants an agent (docs/agent-operations.md), defined
 * once for both sides: each kind's arguments and outputs as types, how they travel in the
 * wire's string maps (Operation.args, OperationResult.outputs), and how long the agent lets
 * it run. The agent's handlers and the coordinator's calls both go through this table, so a
 * kind, an argument or a timeout cannot differ between them.
 */

type Wire = Readonly<Record<string, string>>;

/** An operation's arguments are wrong: the coordinator's bug, answered ok=false without running anything. */
export class OperationArgumentError extends Error {
  override readonly name = 'OperationArgumentError';
}

/** An agent answered ok=true with outputs its kind does not have. */
export class OperationOutputError extends Error {
  override readonly name = 'OperationOutputError';
}

/** Typed values to and from the wire's string map. `decode` throws the codec's error class, naming the field. */
export interface WireCodec<T> {
  encode(value: T): Record<string, string>;
  decode(wire: Wire, kind: string): T;
}

export interface EtcdMember {
  /** uint64, as the decimal string etcd's gateway sends (a JS number would lose digits). */
  id: string;
  /** Empty for a member added but not started yet. */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

export interface OperationSpec<Args, Outputs> {
  args: WireCodec<Args>;
  outputs: WireCodec<Outputs>;
  /** How long the agent lets the operation's commands run, all together (the coordinator waits ROUND_TRIP_MARGIN_MS more). */
  timeoutMs: number;
}

type Missing = new (message: string) => Error;

/** Required, non-empty string fields, carried as they are. */
function strings<K extends string>(error: Missing, what: string, ...names: K[]): WireCodec<Record<K, string>> {
  return {
    encode: (value) => ({ ...value }),
    decode(wire, kind) {
      const value = {} as Record<K, string>;
      for (const name of names) {
        if (!wire[name]) throw new error(`${kind} needs the ${what} ${name}`);
        value[name] = wire[name];
      }
      return value;
    },
  };
}

const NONE: WireCodec<Record<string, never>> = { encode: () => ({}), decode: () => ({}) };

const UPGRADE_MODES = ['apply', 'node'] as const;

const upgradeArgs: WireCodec<{ mode: (typeof UPGRADE_MODES)[number]; config: string }> = {
  encode: (value) => ({ ...value }),
  decode(wire, kind) {
    const { mode, config } = strings(OperationArgumentError, 'argument', 'mode', 'config').decode(wire, kind);
    if (!(UPGRADE_MODES as readonly string[]).includes(mode)) throw new OperationArgumentError(`${kind}: mode must be "apply" or "node", got "${mode}"`);
    return { mode: mode as (typeof UPGRADE_MODES)[number], config };
  },
};

/** JSON in one field: the member ids stay strings. */
const etcdMembersOutputs: WireCodec<{ members: EtcdMember[] }> = {
  encode: ({ members }) => ({ members: JSON.stringify(members) }),
  decode(wire, kind) {
    try {
      const members = JSON.parse(wire.members ?? '') as unknown;
      if (Array.isArray(members)) return { members: members as EtcdMember[] };
    } catch { /* answered below */ }
    throw new OperationOutputError(`${kind} answered no member list`);
  },
};

const MINUTE = 60_000;
/** kubeadm init, join and upgrade pull images and wait for static pods. */
const LONG = 20 * MINUTE;
const SHORT = 2 * MINUTE;

function spec<Args, Outputs>(s: OperationSpec<Args, Outputs>): OperationSpec<Args, Outputs> {
  return s;
}

const config = strings(OperationArgumentError, 'argument', 'config');

export const OPERATIONS = {
  'kubeadm-init': spec({ args: config, outputs: strings(OperationOutputError, 'output', 'kubeconfig'), timeoutMs: LONG }),
  'kubeadm-join': spec({ args: config, outputs: NONE, timeoutMs: LONG }),
  'kubeadm-upload-certs': spec({ args: config, outputs: NONE, timeoutMs: SHORT }),
  'kubeadm-upgrade': spec({ args: upgradeArgs, outputs: NONE, timeoutMs: LONG }),
  'restart-kubelet': spec({ args: NONE, outputs: NONE, timeoutMs: SHORT }),
  'kubeadm-reset': spec({ args: NONE, outputs: NONE, timeoutMs: SHORT }),
  // etcd's gateway answers each request within its own 10 s (one request to list, two to remove).
  'etcd-members': spec({ args: NONE, outputs: etcdMembersOutputs, timeoutMs: 10_000 }),
  'etcd-member-remove': spec({ args: strings(OperationArgumentError, 'argument', 'name'), outputs: NONE, timeoutMs: 20_000 }),
  // The answer goes at once; `systemctl reboot` runs after it is sent, within this.
  reboot: spec({ args: NONE, outputs: NONE, timeoutMs: SHORT }),
};

export type OperationKind = keyof typeof OPERATIONS;
export type OperationArgs<K extends OperationKind> = (typeof OPERATIONS)[K] extends OperationSpec<infer A, unknown> ? A : never;
export type OperationOutputs<K extends OperationKind> = (typeof OPERATIONS)[K] extends OperationSpec<unknown, infer O> ? O : never;

/** For the result to come back: the agent persists it, then sends it on the stream. */
export const ROUND_TRIP_MARGIN_MS = 10_000;

export function isOperationKind(kind: string): kind is OperationKind {
  return Object.hasOwn(OPERATIONS, kind);
}

/** How long the coordinator waits for a kind's result: the agent's timeout and the round trip. */
export function operationDeadlineMs(kind: OperationKind): number {
  return OPERATIONS[kind].timeoutMs + ROUND_TRIP_MARGIN_MS;
}

export function encodeArgs<K extends OperationKind>(kind: K, args: OperationArgs<K>): Record<string, string> {
  return (OPERATIONS[kind].args as WireCodec<OperationArgs<K>>).encode(args);
}

export function decodeArgs<K extends OperationKind>(kind: K, wire: Wire): OperationArgs<K> {
  return (OPERATIONS[kind].args as WireCodec<OperationArgs<K>>).decode(wire, kind);
}

export function encodeOutputs<K extends OperationKind>(kind: K, outputs: OperationOutputs<K>): Record<string, string> {
  return (OPERATIONS[kind].outputs as WireCodec<OperationOutputs<K>>).encode(outputs);
}

export function decodeOutputs<K extends OperationKind>(kind: K, wire: Wire): OperationOutputs<K> {
  return (OPERATIONS[kind].outputs as WireCodec<OperationOutputs<K>>).decode(wire, kind);
}
