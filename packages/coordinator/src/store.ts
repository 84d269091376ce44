import { join } from 'node:path';
import type { FileSystem } from '@herd/sys';
import type { CertAndKey } from '@herd/pki';

/** The coordinator's durable secrets. */
export interface CoordinatorPki {
  ca: CertAndKey;
  server: CertAndKey;
  /** The admin client certificate the CLI presents (read from the same state directory). */
  admin: CertAndKey;
}

/** One bootstrap token as stored: never the secret itself, only its SHA-256. */
export interface TokenRecord {
  id: string;
  secretSha256: string;
  cluster: string;
  /** The node the token is for; undefined lets the agent name itself. */
  node?: string;
  /** RFC 3339. */
  expires: string;
  created: string;
  used: boolean;
  usedBy?: string;
  usedAt?: string;
}

/** The one certificate a node is known by now (docs/protocol.md, "One identity per node"). */
export interface IdentityRecord {
  cluster: string;
  node: string;
  /** SHA-256 of the certificate's DER, hex: what a stream's certificate must match. */
  fingerprint: string;
  serial: string;
  /** RFC 3339: when this certificate was issued (or first seen, for one issued before records were kept). */
  since: string;
  /** 1 for the first identity, +1 for every re-enrollment that replaced one. */
  generation: number;
  /** RFC 3339 of the last replacement; undefined if never replaced. */
  replacedAt?: string;
}

/**
 * Where the coordinator keeps what must survive a restart. Behind an interface because a
 * later version keeps these secrets encrypted in the Git repository instead.
 */
export interface CoordinatorStore {
  loadPki(): Promise<Partial<CoordinatorPki>>;
  savePki(pki: CoordinatorPki): Promise<void>;
  loadTokens(): Promise<TokenRecord[]>;
  /** Replaces every record at once (atomically): a crash leaves the old list or the new. */
  saveTokens(tokens: readonly TokenRecord[]): Promise<void>;
  loadIdentities(): Promise<IdentityRecord[]>;
  /** Replaces every record at once (atomically), like saveTokens. */
  saveIdentities(identities: readonly IdentityRecord[]): Promise<void>;
}

/** File names in the state directory (documented in docs/protocol.md). */
export const STATE_FILES = {
  caCert: 'ca.crt', caKey: 'ca.key',
  serverCert: 'server.crt', serverKey: 'server.key',
  adminCert: 'admin.crt', adminKey: 'admin.key',
  tokens: 'tokens.json',
  identities: 'identities.json',
} as const;

const PUBLIC = 0o644;
const SECRET = 0o600;

/** The store as files in a state directory; keys and tokens 0600. */
export function directoryStore(dir: string, fs: FileSystem): CoordinatorStore {
  const path = (name: string) => join(dir, name);
  async function pair(cert: string, key: string): Promise<CertAndKey | undefined> {
    const [certPem, keyPem] = await Promise.all([fs.read(path(cert)), fs.read(path(key))]);
    return certPem && keyPem ? { certPem, keyPem } : undefined;
  }
  async function writePair(value: CertAndKey, cert: string, key: string) {
    // Key first: a certificate on disk always has its key next to it.
    await fs.writeAtomic(path(key), value.keyPem, { mode: SECRET });
    await fs.writeAtomic(path(cert), value.certPem, { mode: PUBLIC });
  }
  return {
    async loadPki() {
      const [ca, server, admin] = await Promise.all([
        pair(STATE_FILES.caCert, STATE_FILES.caKey),
        pair(STATE_FILES.serverCert, STATE_FILES.serverKey),
        pair(STATE_FILES.adminCert, STATE_FILES.adminKey),
      ]);
      return { ca, server, admin };
    },
    async savePki(pki) {
      await fs.mkdirp(dir, 0o700);
      await writePair(pki.ca, STATE_FILES.caCert, STATE_FILES.caKey);
      await writePair(pki.server, STATE_FILES.serverCert, STATE_FILES.serverKey);
      await writePair(pki.admin, STATE_FILES.adminCert, STATE_FILES.adminKey);
    },
    async loadTokens() {
      const text = await fs.read(path(STATE_FILES.tokens));
      return text ? (JSON.parse(text) as { tokens: TokenRecord[] }).tokens : [];
    },
    async saveTokens(tokens) {
      await fs.mkdirp(dir, 0o700);
      await fs.writeAtomic(path(STATE_FILES.tokens), JSON.stringify({ tokens }, null, 2) + '\n', { mode: SECRET });
    },
    async loadIdentities() {
      const text = await fs.read(path(STATE_FILES.identities));
      return text ? (JSON.parse(text) as { identities: IdentityRecord[] }).identities : [];
    },
    async saveIdentities(identities) {
      await fs.mkdirp(dir, 0o700);
      await fs.writeAtomic(path(STATE_FILES.identities), JSON.stringify({ identities }, null, 2) + '\n', { mode: SECRET });
    },
  };
}
