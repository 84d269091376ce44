import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import type { Clock } from '@herd/sys';
import type { CoordinatorStore, TokenRecord } from './store.js';

/** Why an enrollment token was refused. The caller sees the reason; nothing is changed. */
export class TokenRefused extends Error {
  override readonly name = 'TokenRefused';
  constructor(readonly reason: 'malformed' | 'unknown' | 'expired' | 'used' | 'wrong-node', message: string, readonly tokenId?: string) {
    super(message);
  }
}

/** kubeadm's bootstrap token shape: a public ID and a secret, `[a-z0-9]{6}.[a-z0-9]{16}`. */
export const TOKEN_PATTERN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** Spent and expired records are kept this long (for `why was I refused`), then dropped. */
const KEEP_AFTER_EXPIRY_MS = 24 * 3_600_000;

function randomString(length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return s;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export interface CreatedToken {
  token: string;
  id: string;
  expires: string;
}

/** Single-use, expiring bootstrap tokens, stored hashed. Operations run one at a time. */
export class TokenRegistry {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: CoordinatorStore, private readonly clock: Clock) {}

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  create(request: { cluster: string; node?: string; ttlMs: number }): Promise<CreatedToken> {
    return this.serialized(async () => {
      const now = this.clock.now();
      const id = randomString(6);
      const secret = randomString(16);
      const record: TokenRecord = {
        id,
        secretSha256: sha256(secret),
        cluster: request.cluster,
        ...(request.node ? { node: request.node } : {}),
        created: new Date(now).toISOString(),
        expires: new Date(now + request.ttlMs).toISOString(),
        used: false,
      };
      const kept = (await this.store.loadTokens()).filter((t) => Date.parse(t.expires) + KEEP_AFTER_EXPIRY_MS > now);
      await this.store.saveTokens([...kept, record]);
      return { token: `${id}.${secret}`, id, expires: record.expires };
    });
  }

  /**
   * Checks a token and marks it used by the node `nameFor` picks for it (persisted before
   * this returns). Throws TokenRefused, or what `nameFor` throws, without changing anything.
   */
  consume(token: string, nameFor: (record: TokenRecord) => string): Promise<TokenRecord> {
    return this.serialized(async () => {
      const match = TOKEN_PATTERN.exec(token);
      if (!match) throw new TokenRefused('malformed', 'the token is malformed (want ID.SECRET, [a-z0-9]{6}.[a-z0-9]{16})');
      const [, id, secret] = match as unknown as [string, string, string];
      const tokens = await this.store.loadTokens();
      const record = tokens.find((t) => t.id === id);
      const given = Buffer.from(sha256(secret), 'hex');
      if (!record || !timingSafeEqual(given, Buffer.from(record.secretSha256, 'hex'))) {
        throw new TokenRefused('unknown', `token ${id} is not known to this coordinator`, id);
      }
      if (record.used) throw new TokenRefused('used', `token ${id} was already used (by ${record.usedBy} at ${record.usedAt}); create a new one`, id);
      const now = this.clock.now();
      if (now >= Date.parse(record.expires)) throw new TokenRefused('expired', `token ${id} expired at ${record.expires}; create a new one`, id);
      const nodeName = nameFor(record);
      const used: TokenRecord = { ...record, used: true, usedBy: nodeName, usedAt: new Date(now).toISOString() };
      await this.store.saveTokens(tokens.map((t) => (t === record ? used : t)));
      return used;
    });
  }
}
