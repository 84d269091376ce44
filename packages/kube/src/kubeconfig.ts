import { X509Certificate, createHash } from 'node:crypto';
import { parse, stringify } from 'yaml';

/** What the client needs from a kubeconfig: where the API is and the mutual-TLS material. */
export interface Kubeconfig {
  server: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  clusterName?: string;
  userName?: string;
}

/**
 * Reads a kubeconfig with inline credentials, as kubeadm writes admin.conf: the current
 * context's cluster (server, certificate-authority-data) and user (client-certificate-data,
 * client-key-data). File references are not followed: this parses text, it reads no files.
 */
export function parseKubeconfig(text: string): Kubeconfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new Error(`kubeconfig is not valid YAML: ${(e as Error).message}`);
  }
  if (!isRecord(doc)) throw new Error('kubeconfig is not a YAML mapping');

  const contexts = list(doc, 'contexts');
  const currentName = typeof doc['current-context'] === 'string' ? doc['current-context'] : undefined;
  let clusterName: string | undefined;
  let userName: string | undefined;
  if (currentName) {
    const context = findNamed(contexts, currentName, 'contexts', 'context');
    clusterName = stringField(context, 'cluster', `contexts[${currentName}].context`);
    userName = stringField(context, 'user', `contexts[${currentName}].context`);
  } else if (contexts.length === 1) {
    const first = contexts[0];
    const only = isRecord(first) ? first['context'] : undefined;
    if (isRecord(only)) {
      clusterName = stringField(only, 'cluster', 'contexts[0].context');
      userName = stringField(only, 'user', 'contexts[0].context');
    }
  }

  const clusters = list(doc, 'clusters');
  const users = list(doc, 'users');
  const cluster = clusterName ? findNamed(clusters, clusterName, 'clusters', 'cluster') : onlyEntry(clusters, 'clusters', 'cluster');
  const user = userName ? findNamed(users, userName, 'users', 'user') : onlyEntry(users, 'users', 'user');
  const clusterWhere = `clusters[${clusterName ?? 0}].cluster`;
  const userWhere = `users[${userName ?? 0}].user`;

  const server = stringField(cluster, 'server', clusterWhere);
  try {
    new URL(server);
  } catch {
    throw new Error(`kubeconfig ${clusterWhere}.server is not a URL: ${server}`);
  }
  const config: Kubeconfig = {
    server,
    caPem: inlineData(cluster, 'certificate-authority', clusterWhere),
    certPem: inlineData(user, 'client-certificate', userWhere),
    keyPem: inlineData(user, 'client-key', userWhere),
  };
  if (clusterName) config.clusterName = clusterName;
  if (userName) config.userName = userName;
  return config;
}

/** A self-contained kubeconfig (one cluster, user and context, credentials inline). */
export function renderKubeconfig(c: Kubeconfig, o: { cluster: string; user: string }): string {
  const context = `${o.user}@${o.cluster}`;
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: o.cluster, cluster: { server: c.server, 'certificate-authority-data': b64(c.caPem) } }],
    users: [{ name: o.user, user: { 'client-certificate-data': b64(c.certPem), 'client-key-data': b64(c.keyPem) } }],
    contexts: [{ name: context, context: { cluster: o.cluster, user: o.user } }],
    'current-context': context,
    preferences: {},
  }, { lineWidth: 0 });
}

/**
 * The CA pin kubeadm join takes as --discovery-token-ca-cert-hash: sha256 over the DER of
 * the CA certificate's SubjectPublicKeyInfo.
 */
export function caCertHash(caPem: string): string {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(caPem);
  } catch (e) {
    throw new Error(`CA certificate is not a PEM X.509 certificate: ${(e as Error).message}`);
  }
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function list(doc: Record<string, unknown>, key: string): unknown[] {
  const v = doc[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new Error(`kubeconfig ${key} is not a list`);
  return v;
}

function findNamed(entries: unknown[], name: string, listKey: string, inner: string): Record<string, unknown> {
  const entry = entries.find((e) => isRecord(e) && e['name'] === name);
  if (!entry) throw new Error(`kubeconfig has no ${listKey} entry named ${JSON.stringify(name)}`);
  const value = (entry as Record<string, unknown>)[inner];
  if (!isRecord(value)) throw new Error(`kubeconfig ${listKey}[${name}] is missing ${inner}`);
  return value;
}

function onlyEntry(entries: unknown[], listKey: string, inner: string): Record<string, unknown> {
  if (entries.length !== 1) {
    throw new Error(`kubeconfig has no current-context and ${entries.length} ${listKey} entries: cannot tell which to use`);
  }
  const first = entries[0];
  const value = isRecord(first) ? first[inner] : undefined;
  if (!isRecord(value)) throw new Error(`kubeconfig ${listKey}[0] is missing ${inner}`);
  return value;
}

function stringField(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw new Error(`kubeconfig ${where} is missing ${key}`);
  return v;
}

/** `<key>-data` (base64 PEM). A `<key>` file path is named in the error: we only take inline data. */
function inlineData(o: Record<string, unknown>, key: string, where: string): string {
  const data = o[`${key}-data`];
  if (typeof data === 'string' && data !== '') {
    const pem = Buffer.from(data, 'base64').toString('utf8');
    if (!pem.includes('-----BEGIN')) throw new Error(`kubeconfig ${where}.${key}-data is not base64 of a PEM block`);
    return pem;
  }
  if (typeof o[key] === 'string') {
    throw new Error(`kubeconfig ${where} is missing ${key}-data (it refers to the file ${String(o[key])}; only inline data is supported)`);
  }
  throw new Error(`kubeconfig ${where} is missing ${key}-data`);
}
