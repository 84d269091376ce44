import { request } from 'node:https';
import type { EtcdMember } from '@herd/proto';
import type { FileSystem } from '@herd/sys';

export type { EtcdMember };

/**
 * etcd's JSON gateway on a control-plane node (POST /v3/...), behind an interface so the
 * operations that use it are tested without etcd. Bodies go and come back as JSON text.
 */
export interface EtcdGateway {
  post(path: string, body: string): Promise<string>;
}

export interface HttpsEtcdGatewayOptions {
  /** Default https://127.0.0.1:2379, the local member kubeadm runs. */
  endpoint?: string;
  /** Where kubeadm keeps the certificates. Default /etc/kubernetes/pki. */
  pkiDir?: string;
  timeoutMs?: number;
}

/** The gateway over mutual TLS with the API server's etcd client certificate (read at each call: kubeadm renews it). */
export function httpsEtcdGateway(fs: FileSystem, options: HttpsEtcdGatewayOptions = {}): EtcdGateway {
  const endpoint = options.endpoint ?? 'https://127.0.0.1:2379';
  const pki = options.pkiDir ?? '/etc/kubernetes/pki';
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    async post(path, body) {
      const files = [`${pki}/apiserver-etcd-client.crt`, `${pki}/apiserver-etcd-client.key`, `${pki}/etcd/ca.crt`];
      const [cert, key, ca] = await Promise.all(files.map((f) => fs.read(f)));
      if (!cert || !key || !ca) throw new Error(`etcd client credentials missing (${files.join(', ')}): not a control-plane node?`);
      return new Promise<string>((resolve, reject) => {
        const req = request(new URL(path, endpoint), { method: 'POST', cert, key, ca, timeout: timeoutMs, headers: { 'content-type': 'application/json' } }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => { text += chunk; });
          res.on('error', reject);
          res.on('end', () => {
            if ((res.statusCode ?? 0) < 300) resolve(text);
            else reject(new Error(`etcd ${path} answered ${res.statusCode}: ${gatewayError(text)}`));
          });
        });
        req.on('timeout', () => req.destroy(new Error(`etcd ${path}: no answer within ${timeoutMs} ms`)));
        req.on('error', reject);
        req.end(body);
      });
    },
  };
}

function gatewayError(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: string; error?: string };
    return parsed.message ?? parsed.error ?? text.slice(0, 200);
  } catch {
    return text.slice(0, 200);
  }
}

/** Quotes bare integers in ID fields before parsing, so no uint64 passes through a JS number. */
function parseWithStringIds(text: string): unknown {
  return JSON.parse(text.replace(/"ID"\s*:\s*(\d+)/g, '"ID":"$1"'));
}

export async function listMembers(etcd: EtcdGateway): Promise<EtcdMember[]> {
  const answer = parseWithStringIds(await etcd.post('/v3/cluster/member/list', '{}')) as {
    members?: { ID?: string; name?: string; peerURLs?: string[]; clientURLs?: string[] }[];
  };
  return (answer.members ?? []).map((m) => ({
    id: String(m.ID ?? ''), name: m.name ?? '', peerURLs: m.peerURLs ?? [], clientURLs: m.clientURLs ?? [],
  }));
}

export async function removeMember(etcd: EtcdGateway, id: string): Promise<void> {
  if (!/^\d+$/.test(id)) throw new Error(`etcd member id must be a decimal uint64, got "${id}"`);
  // A string keeps all 64 bits; the gateway's JSON mapping accepts uint64 as a string.
  await etcd.post('/v3/cluster/member/remove', JSON.stringify({ ID: id }));
}
