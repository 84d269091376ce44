/**
 * `--state-ref`: the coordinator's state directory kept in a ref of the repository it reads,
 * encrypted with age to the operators' keys in RECIPIENTS_FILE and the coordinator's own
 * identity (docs/operations.md, "State in Git").
 */
import { createHash } from 'node:crypto';
import { isAbsolute, join, resolve } from 'node:path';
import { isRemoteUrl } from '@herd/source';
import { GitStateRef, observedSummary, parseRecipients, readAgeIdentity, StateSync, type StatusLike } from '@herd/state-git';
import { createExecutor, herdCacheDir, nodeFileSystem, UserError, type Logger } from '@herd/sys';

/** Where the operators' age public keys are listed, one per line, in the repository the coordinator reads. */
export const RECIPIENTS_FILE = '.herd/recipients';

export interface StateInGitOptions {
  /** The repository the coordinator reads (`--repo`): the state ref is pushed there. */
  repo: string;
  ref: string;
  identityFile: string;
  stateDir: string;
  /** The recipients file at a commit (the one in force), as the repository reader reads it. */
  readFile: (path: string, commit: string | undefined) => Promise<string>;
  logger: Logger;
}

export interface StateInGit {
  /** Restores an empty state directory from the ref, if the ref exists; what it found. */
  start(): Promise<'local' | 'restored' | 'fresh'>;
  /** Throws the UserError of a missing or bad recipients file at `commit`: checked before the coordinator makes anything. */
  checkRecipients(commit: string | undefined): Promise<void>;
  /** Checks the recipients file at `commit` and publishes what changed; a failure is thrown (at start: the coordinator does not run). */
  publishNow(status: StatusLike | undefined, commit: string | undefined): Promise<void>;
  /** The same after a round, one at a time, a failure logged: the next round tries again. */
  afterRound(status: StatusLike, commit: string | undefined): void;
  /** Waits for a publish under way, then publishes once more (what changed since the last round, the summary unthrottled). */
  close(status: StatusLike | undefined, commit: string | undefined): Promise<void>;
}

export async function stateInGit(options: StateInGitOptions): Promise<StateInGit> {
  const { logger } = options;
  const fs = nodeFileSystem();
  const identity = await readAgeIdentity(options.identityFile, fs);
  const url = isRemoteUrl(options.repo) || isAbsolute(options.repo) ? options.repo : resolve(options.repo);
  // One work repository per coordinator: two on one host never share a lock or a fetched ref.
  const id = createHash('sha256').update(JSON.stringify([url, options.ref, resolve(options.stateDir)])).digest('hex').slice(0, 16);
  const ref = new GitStateRef({ url, ref: options.ref, workDir: join(herdCacheDir(), 'state-git', id), exec: createExecutor({ logger }), logger });
  const sync = new StateSync({ stateDir: options.stateDir, fs, ref, identity, logger });
  const recipients = new Map<string | undefined, string[]>();

  async function operators(commit: string | undefined): Promise<string[]> {
    const known = recipients.get(commit);
    if (known) return known;
    let text: string;
    try {
      text = await options.readFile(RECIPIENTS_FILE, commit);
    } catch (e) {
      throw new UserError(`${(e as Error).message}: the operators' age public keys (age1…) go there, one per line; see docs/operations.md, "State in Git"`);
    }
    const keys = parseRecipients(text, RECIPIENTS_FILE);
    // The coordinator's identity alone would make it the one key to the whole fleet.
    if (!keys.length) throw new UserError(`${RECIPIENTS_FILE} lists no age public key; at least one operator's key must be able to read the state`);
    recipients.clear();
    recipients.set(commit, keys);
    return keys;
  }

  const publishNow = async (status: StatusLike | undefined, commit: string | undefined, unthrottled = false) => {
    const outcome = await sync.publish(observedSummary(status), await operators(commit), { unthrottled });
    logger.debug({ ref: ref.display, outcome }, 'state in Git');
  };
  let running: Promise<void> | undefined;
  let next: { status: StatusLike; commit: string | undefined } | undefined;
  return {
    start: () => sync.start(),
    checkRecipients: async (commit) => { await operators(commit); },
    publishNow,
    afterRound(status, commit) {
      // Rounds come faster than a push may take: only the newest status waiting is published.
      next = { status, commit };
      running ??= (async () => {
        while (next) {
          const { status: s, commit: c } = next;
          next = undefined;
          await publishNow(s, c).catch((e: unknown) => logger.error({ err: e, ref: ref.display }, 'cannot publish the state to Git; trying again after the next round'));
        }
        running = undefined;
      })();
    },
    async close(status, commit) {
      next = undefined;
      await running;
      // The last word: what the fleet runs now, throttled or not.
      await publishNow(status, commit, true).catch((e: unknown) => logger.error({ err: e, ref: ref.display }, 'cannot publish the state to Git'));
    },
  };
}
