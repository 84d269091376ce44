import { caHash } from '@herd/pki';
import { silentLogger, systemClock, UserError, type Clock, type FileSystem, type Logger } from '@herd/sys';
import { decrypt, encrypt, type AgeIdentity } from './age.js';
import { StateRefError, type GitStateRef, type StateCommit } from './git-ref.js';
import { bundleDigest, durableFiles, exportState, importState, type StateBundle } from './layout.js';

/** The files of a state commit. */
export const STATE_BLOB = 'state.age';
export const SUMMARY_FILE = 'summary.json';

/** What the fleet runs, in plain text beside the encrypted state: the commit in force, and the commit each node's state came from. */
export interface ObservedSummary {
  commit?: string;
  nodes: { cluster: string; node: string; commit: string }[];
}

/** summary.json: the observed summary, whose state this is (its CA) and who can read it. */
export interface StateSummary extends ObservedSummary {
  format: 1;
  /** RFC 3339: when this commit was made. */
  time: string;
  /** The CA pin of the coordinator whose state this is (sha256:HEX): a coordinator with another CA refuses to write over it. */
  caHash: string;
  /** The age public keys state.age is encrypted to. */
  recipients: string[];
}

/** The part of a FleetStatus (@herd/reconciler) the summary is made of. */
export interface StatusLike {
  commit?: string;
  clusters: readonly { name: string; machines: readonly { name: string; agent: { commit: string } | null }[] }[];
}

/** The summary of a status: nodes whose agent has reported a commit, sorted. */
export function observedSummary(status: StatusLike | undefined): ObservedSummary {
  const nodes = (status?.clusters ?? []).flatMap((c) => c.machines
    .filter((m) => m.agent?.commit)
    .map((m) => ({ cluster: c.name, node: m.name, commit: m.agent!.commit })));
  nodes.sort((a, b) => (a.cluster === b.cluster ? (a.node < b.node ? -1 : 1) : a.cluster < b.cluster ? -1 : 1));
  return { ...(status?.commit ? { commit: status.commit } : {}), nodes };
}

export interface StateSyncOptions {
  stateDir: string;
  fs: FileSystem;
  ref: GitStateRef;
  /** The coordinator's identity: it decrypts on restore and is always a recipient. */
  identity: AgeIdentity;
  clock?: Clock;
  /** A change of the observed summary alone is published at most this often. Default one minute. */
  summaryIntervalMs?: number;
  logger?: Logger;
}

export type PublishOutcome = 'published' | 'unchanged' | 'throttled';

/**
 * The state directory kept in a Git ref: restored from it into an empty directory, published
 * to it when the durable state, its recipients or (throttled) the observed summary changed.
 * One publish at a time is the caller's to ensure.
 */
export class StateSync {
  /** What the ref holds as far as this process knows: digest of bundle and recipients, the observed summary, when. */
  private published?: { durable: string; observed: string; at: number };

  constructor(private readonly options: StateSyncOptions) {}

  private get logger(): Logger {
    return this.options.logger ?? silentLogger();
  }

  /**
   * 'local' when the state directory holds durable state (it is the truth, published next);
   * else restores it from the ref ('restored') or finds none there ('fresh'). A ref that cannot
   * be decrypted with the identity is a UserError, and nothing is written.
   */
  async start(): Promise<'local' | 'restored' | 'fresh'> {
    const { stateDir, fs, ref, identity } = this.options;
    if ((await durableFiles(stateDir, fs)).length) return 'local';
    const tip = await ref.read();
    if (!tip) return 'fresh';
    const blob = tip.files[STATE_BLOB];
    const what = `${ref.display} at commit ${tip.commit.slice(0, 12)}`;
    if (blob === undefined) throw new StateRefError(`${what} has no ${STATE_BLOB}; it was not written by herd`);
    const bundle = await decrypt(blob, identity, what);
    await importState(bundle, stateDir, fs);
    const summary = parseSummary(tip, what);
    this.published = { durable: durableKey(bundle, summary.recipients), observed: observedKey(summary), at: this.clock.now() };
    this.logger.info({ ref: ref.display, commit: tip.commit, files: bundle.files.length }, 'restored the state directory from Git');
    return 'restored';
  }

  /**
   * Publishes the state directory encrypted to `operators` and the coordinator's identity, with
   * `observed` beside it, when something changed since the last publish (a change of `observed`
   * alone waits for summaryIntervalMs, unless `unthrottled`). Refuses (StateRefError)
   * to write over a ref that holds the state of a coordinator with another CA.
   */
  async publish(observed: ObservedSummary, operators: readonly string[], options: { unthrottled?: boolean } = {}): Promise<PublishOutcome> {
    const { stateDir, fs, ref, identity } = this.options;
    const bundle = await exportState(stateDir, fs);
    const ca = bundle.files.find((f) => f.path === 'ca.crt');
    // Before the coordinator made its CA there is no state to speak of.
    if (!ca) return 'unchanged';
    const pin = caHash(ca.text);
    const recipients = [...new Set([identity.recipient, ...operators])].sort();
    const durable = durableKey(bundle, recipients);
    const observedNow = observedKey(observed);
    const now = this.clock.now();
    const last = this.published;
    if (last?.durable === durable) {
      if (last.observed === observedNow) return 'unchanged';
      if (!options.unthrottled && now - last.at < (this.options.summaryIntervalMs ?? 60_000)) return 'throttled';
    }
    const reason = last?.durable === durable ? 'observed state' : last ? 'durable state' : 'coordinator started';
    const blob = await encrypt(bundle, recipients);
    const summary: StateSummary = { format: 1, time: new Date(now).toISOString(), caHash: pin, recipients, ...observed };
    const build = async (tip: StateCommit | undefined) => {
      if (tip) {
        const theirs = parseSummary(tip, `${ref.display} at commit ${tip.commit.slice(0, 12)}`).caHash;
        if (theirs !== pin) {
          throw new StateRefError(`${ref.display} holds the state of a coordinator with another CA (${theirs}) than this one's (${pin}); `
            + `not writing over it. Restore it into an empty state directory, or give this coordinator another --state-ref`);
        }
      }
      return { [STATE_BLOB]: blob, [SUMMARY_FILE]: JSON.stringify(summary, null, 2) + '\n' };
    };
    await ref.publish(build, `herd state: ${reason}${observed.commit ? ` (commit in force ${observed.commit.slice(0, 12)})` : ''}`);
    this.published = { durable, observed: observedNow, at: now };
    return 'published';
  }

  private get clock(): Clock {
    return this.options.clock ?? systemClock;
  }
}

function durableKey(bundle: StateBundle, recipients: readonly string[]): string {
  return JSON.stringify([bundleDigest(bundle), [...recipients].sort()]);
}

function observedKey(observed: ObservedSummary): string {
  return JSON.stringify([observed.commit ?? null, observed.nodes.map((n) => [n.cluster, n.node, n.commit])]);
}

/** The summary of a state commit; a missing or unreadable one is a UserError naming the commit. */
export function parseSummary(tip: StateCommit, what: string): StateSummary {
  const text = tip.files[SUMMARY_FILE];
  let summary: StateSummary | undefined;
  try {
    summary = text === undefined ? undefined : (JSON.parse(text) as StateSummary);
  } catch {
    summary = undefined;
  }
  if (!summary || typeof summary.caHash !== 'string' || !Array.isArray(summary.recipients) || !Array.isArray(summary.nodes)) {
    throw new UserError(`${what}: ${SUMMARY_FILE} is missing or not a herd state summary`);
  }
  return summary;
}
