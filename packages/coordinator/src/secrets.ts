import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { UserError, type FileSystem } from '@herd/sys';

/** What the coordinator must keep of a Kubernetes cluster it made: enough to manage it, and to rebuild its access. */
export interface ClusterSecrets {
  /** The admin kubeconfig `kubeadm init` wrote (client certificate of system:masters). */
  kubeconfig?: string;
  /** keepalived's VRRP password for the control-plane virtual IP. */
  vrrpPassword?: string;
}

const KEY_FILE = 'secrets.key';
const DIR = 'secrets';
const ALGORITHM = 'aes-256-gcm';

/**
 * Cluster secrets encrypted at rest (AES-256-GCM, one file per cluster). The key is
 * $HERD_SECRETS_KEY (base64 of 32 bytes) when set, so an operator can keep it off the disk
 * that holds the state; otherwise a key file made on first use, mode 0600, beside the
 * coordinator's CA key (which guards as much).
 */
export class SecretStore {
  private key?: Buffer;

  constructor(private readonly dir: string, private readonly fs: FileSystem, private readonly env: NodeJS.ProcessEnv = process.env) {}

  async get(cluster: string): Promise<ClusterSecrets | undefined> {
    const text = await this.fs.read(this.path(cluster));
    if (!text) return undefined;
    const { iv, tag, data } = JSON.parse(text) as { iv: string; tag: string; data: string };
    const decipher = createDecipheriv(ALGORITHM, await this.secretKey(), Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(cluster));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    try {
      return JSON.parse(Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString('utf8')) as ClusterSecrets;
    } catch {
      throw new UserError(`cannot decrypt the secrets of cluster ${cluster} (${this.path(cluster)}): wrong key (HERD_SECRETS_KEY or ${join(this.dir, KEY_FILE)})`);
    }
  }

  async put(cluster: string, secrets: ClusterSecrets): Promise<void> {
    const iv = randomBytes(12);
    const cipher = createCipheriv(ALGORITHM, await this.secretKey(), iv);
    // The cluster's name is authenticated with the data: one cluster's file cannot stand in for another's.
    cipher.setAAD(Buffer.from(cluster));
    const data = Buffer.concat([cipher.update(JSON.stringify(secrets), 'utf8'), cipher.final()]);
    await this.fs.mkdirp(join(this.dir, DIR), 0o700);
    await this.fs.writeAtomic(this.path(cluster), JSON.stringify({ iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') }) + '\n', { mode: 0o600 });
  }

  async delete(cluster: string): Promise<void> {
    await this.fs.remove(this.path(cluster));
  }

  private path(cluster: string): string {
    return join(this.dir, DIR, `${cluster}.json`);
  }

  private async secretKey(): Promise<Buffer> {
    if (this.key) return this.key;
    const fromEnv = this.env.HERD_SECRETS_KEY;
    if (fromEnv) {
      const key = Buffer.from(fromEnv, 'base64');
      if (key.length !== 32) throw new UserError('HERD_SECRETS_KEY must be the base64 of 32 bytes (openssl rand -base64 32)');
      return (this.key = key);
    }
    const file = join(this.dir, KEY_FILE);
    const stored = await this.fs.read(file);
    if (stored) return (this.key = Buffer.from(stored.trim(), 'base64'));
    const key = randomBytes(32);
    await this.fs.mkdirp(this.dir, 0o700);
    await this.fs.writeAtomic(file, key.toString('base64') + '\n', { mode: 0o600 });
    return (this.key = key);
  }
}
