import { createHash, X509Certificate } from 'node:crypto';
import type { Clock } from '@herd/sys';
import { nodeKey, type NodeRef } from './sessions.js';
import type { CoordinatorStore, IdentityRecord } from './store.js';

/** SHA-256 of a certificate's DER, hex. */
export function certFingerprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

/** Whether a stream's certificate is the node's current identity. */
export type IdentityCheck = 'current' | 'replaced' | 'unknown';

/**
 * The one live certificate per node. A node's record changes only through enrollment (the
 * first, or a re-enrollment with a token made for that node, which replaces it); a stream
 * whose certificate is not the recorded one is refused. Kept in memory; a change resolves
 * once a write that includes it is done. Changes made while a write runs share the next
 * write: a fleet of nodes without records (10,000 after an upgrade) would otherwise cost
 * one fsync'd rewrite of the whole file each, one after another (measured: 2,500 in 27 s).
 */
export class IdentityRegistry {
  /** The write in progress, and the one that will follow it (holding every change made since the first began). */
  private writing: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  private constructor(private readonly store: CoordinatorStore, private readonly clock: Clock, private readonly records: Map<string, IdentityRecord>) {}

  static async load(store: CoordinatorStore, clock: Clock): Promise<IdentityRegistry> {
    const records = new Map((await store.loadIdentities()).map((r) => [nodeKey(r), r]));
    return new IdentityRegistry(store, clock, records);
  }

  get(ref: NodeRef): IdentityRecord | undefined {
    return this.records.get(nodeKey(ref));
  }

  check(ref: NodeRef, der: Buffer): IdentityCheck {
    const record = this.get(ref);
    if (!record) return 'unknown';
    return record.fingerprint === certFingerprint(der) ? 'current' : 'replaced';
  }

  private persist(): Promise<void> {
    this.next ??= (async () => {
      await this.writing?.catch(() => undefined);
      // From here on a change needs a later write: this one's snapshot is taken now.
      this.next = undefined;
      const write = this.store.saveIdentities([...this.records.values()]);
      this.writing = write;
      try {
        await write;
      } finally {
        if (this.writing === write) this.writing = undefined;
      }
    })();
    return this.next;
  }

  /** Records a certificate just issued by enrollment; returns the record that it replaced, if any. */
  async issued(ref: NodeRef, certPem: string): Promise<{ record: IdentityRecord; replaced?: IdentityRecord }> {
    const cert = new X509Certificate(certPem);
    const replaced = this.get(ref);
    const now = new Date(this.clock.now()).toISOString();
    const record: IdentityRecord = {
      cluster: ref.cluster, node: ref.node, fingerprint: certFingerprint(cert.raw), serial: cert.serialNumber, since: now,
      generation: (replaced?.generation ?? 0) + 1, ...(replaced ? { replacedAt: now } : {}),
    };
    this.records.set(nodeKey(ref), record);
    await this.persist();
    return { record, ...(replaced ? { replaced } : {}) };
  }

  /**
   * Records the certificate of a node that has no record yet (issued before records were
   * kept, or directly from the CA key): the first valid certificate seen becomes the node's
   * identity. Returns false if another certificate got there first.
   */
  async adopt(ref: NodeRef, der: Buffer): Promise<boolean> {
    const existing = this.get(ref);
    if (existing) {
      // Recorded by a change whose write may still be under way: answer once it is on disk, as for the first.
      await (this.next ?? this.writing);
      return existing.fingerprint === certFingerprint(der);
    }
    const cert = new X509Certificate(der);
    this.records.set(nodeKey(ref), {
      cluster: ref.cluster, node: ref.node, fingerprint: certFingerprint(der), serial: cert.serialNumber,
      since: new Date(this.clock.now()).toISOString(), generation: 1,
    });
    await this.persist();
    return true;
  }
}
