import { randomInt } from 'node:crypto';
import { isConflict } from './errors.js';
import type { KubeRequester } from './transport.js';

export interface BootstrapTokenOptions {
  ttlMs: number;
  description: string;
  /** Epoch ms the TTL counts from; defaults to the client's clock. */
  now?: number;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
export const BOOTSTRAP_TOKEN_PATTERN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
/** The group `kubeadm token create` puts join tokens in; kubeadm's RBAC lets it post CSRs. */
export const DEFAULT_NODE_TOKEN_GROUP = 'system:bootstrappers:kubeadm:default-node-token';

/** A fresh "id.secret" from crypto randomness: 6 and 16 characters of [a-z0-9]. */
export function generateBootstrapToken(): { id: string; secret: string; token: string } {
  const pick = (n: number) => Array.from({ length: n }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  const id = pick(6);
  const secret = pick(16);
  return { id, secret, token: `${id}.${secret}` };
}

/** The Secret `kubeadm token create` writes: the API server's bootstrap authenticator reads it. */
export function bootstrapTokenSecret(id: string, secret: string, expiresAt: number, description: string) {
  const data: Record<string, string> = {
    'token-id': id,
    'token-secret': secret,
    // kubeadm writes Go's time.RFC3339: seconds, no fraction.
    expiration: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    'usage-bootstrap-authentication': 'true',
    'usage-bootstrap-signing': 'true',
    'auth-extra-groups': DEFAULT_NODE_TOKEN_GROUP,
    description,
  };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `bootstrap-token-${id}`, namespace: 'kube-system' },
    type: 'bootstrap.kubernetes.io/token',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

/** Creates a join token that expires `ttlMs` after `now`; a clash of random ids just draws again. */
export async function createBootstrapToken(api: KubeRequester, o: BootstrapTokenOptions, now: number): Promise<string> {
  if (!(o.ttlMs > 0)) throw new Error(`bootstrap token ttlMs must be positive, got ${o.ttlMs}`);
  for (let attempt = 1; ; attempt++) {
    const { id, secret, token } = generateBootstrapToken();
    try {
      await api.request('POST', '/api/v1/namespaces/kube-system/secrets', bootstrapTokenSecret(id, secret, (o.now ?? now) + o.ttlMs, o.description));
      return token;
    } catch (e) {
      if (!isConflict(e) || attempt >= 3) throw e;
    }
  }
}
