/**
 * A real kube-apiserver on loopback for @herd/kube's tests: etcd and kube-apiserver from
 * the test world's Kubernetes build (scripts/build-kubernetes.sh), a PKI made with openssl
 * (CA, serving certificate for 127.0.0.1, an admin client certificate in system:masters,
 * the service-account key pair). No controller-manager, scheduler or kubelet: the tests
 * play those parts themselves (node status, pod status, PodDisruptionBudget status).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeClient, type Kubeconfig } from '@herd/kube';
import { kubernetesCacheDir } from '../kubernetes/node.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const APISERVER_VERSION = 'v1.34.4';

export interface ApiServer {
  config: Kubeconfig;
  /** An admin client (system:masters); the harness closes it. */
  client: KubeClient;
  url: string;
  dir: string;
}

interface Cleanup {
  after(fn: () => unknown): void;
}

/** The binaries from the build; a fresh machine builds them first (tens of minutes, cached after). */
export function apiServerBinaries(version = APISERVER_VERSION): { etcd: string; apiserver: string } {
  const bin = join(kubernetesCacheDir(), version, 'bin');
  const paths = { etcd: join(bin, 'etcd'), apiserver: join(bin, 'kube-apiserver') };
  if (!existsSync(paths.etcd) || !existsSync(paths.apiserver)) {
    execFileSync('bash', [join(ROOT, 'scripts/build-kubernetes.sh'), version], { stdio: 'inherit', timeout: 3 * 3600_000 });
  }
  return paths;
}

export async function startApiServer(t: Cleanup, version = APISERVER_VERSION): Promise<ApiServer> {
  const binaries = apiServerBinaries(version);
  const dir = mkdtempSync(join(tmpdir(), 'herd-apiserver-'));
  const children: ChildProcess[] = [];
  let client: KubeClient | undefined;
  t.after(async () => {
    client?.close();
    // apiserver first, then etcd under it; each by its own PID
    for (const child of children.reverse()) await stop(child);
    rmSync(dir, { recursive: true, force: true });
  });

  const pki = makePki(dir);
  const [etcdClient, etcdPeer, securePort] = await freePorts(3);
  const etcdUrl = `http://127.0.0.1:${etcdClient}`;
  const peerUrl = `http://127.0.0.1:${etcdPeer}`;
  children.push(start(binaries.etcd, [
    '--name=default',
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=default=${peerUrl}`,
  ], join(dir, 'etcd.log')));
  children.push(start(binaries.apiserver, [
    `--etcd-servers=${etcdUrl}`,
    `--secure-port=${securePort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--cert-dir=${dir}`,
    `--client-ca-file=${pki.ca}`,
    `--tls-cert-file=${pki.serverCert}`,
    `--tls-private-key-file=${pki.serverKey}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    '--service-cluster-ip-range=10.96.0.0/12',
    '--authorization-mode=Node,RBAC',
    // so a test can prove a token from createBootstrapToken authenticates, as kubeadm join needs
    '--enable-bootstrap-token-auth=true',
    '--profiling=false',
  ], join(dir, 'apiserver.log')));

  const url = `https://127.0.0.1:${securePort}`;
  const config: Kubeconfig = {
    server: url,
    caPem: readFileSync(pki.ca, 'utf8'),
    certPem: readFileSync(pki.adminCert, 'utf8'),
    keyPem: readFileSync(pki.adminKey, 'utf8'),
  };
  client = new KubeClient(config, { timeoutMs: 10_000 });
  await waitReady(client, children, dir);
  return { config, client, url, dir };
}

function start(binary: string, args: string[], log: string): ChildProcess {
  const fd = openSync(log, 'a');
  const child = spawn(binary, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.on('error', () => {}); // a missing binary shows as an early exit in waitReady
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function waitReady(client: KubeClient, children: ChildProcess[], dir: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
    if (dead) throw new Error(`${dead.spawnfile} exited (${dead.exitCode ?? dead.signalCode}) before the API was ready:\n${logTails(dir)}`);
    if (await client.healthy()) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`kube-apiserver not ready within 120 s:\n${logTails(dir)}`);
}

function logTails(dir: string): string {
  return ['etcd.log', 'apiserver.log']
    .map((f) => {
      const p = join(dir, f);
      const lines = existsSync(p) ? readFileSync(p, 'utf8').trimEnd().split('\n').slice(-15).join('\n') : '(no log)';
      return `--- ${f}\n${lines}`;
    })
    .join('\n');
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => res(s));
  })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((res) => s.close(res))));
  return ports;
}

interface Pki { ca: string; serverCert: string; serverKey: string; adminCert: string; adminKey: string; saKey: string; saPub: string }

/** P-256 keys (fast to make); the CA signs a serving and an admin client certificate. */
function makePki(dir: string): Pki {
  const p = (f: string) => join(dir, f);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ossl('req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '1', '-subj', '/CN=kubernetes',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature');
  const leaf = (name: string, subject: string, ext: string) => {
    writeFileSync(p(`${name}.ext`), ext);
    ossl('req', '-new', ...ec, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', subject);
    ossl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial',
      '-out', p(`${name}.crt`), '-days', '1', '-extfile', p(`${name}.ext`));
  };
  leaf('apiserver', '/CN=kube-apiserver', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
  leaf('admin', '/O=system:masters/CN=kubernetes-admin', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
  ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', p('sa.key'));
  ossl('pkey', '-in', p('sa.key'), '-pubout', '-out', p('sa.pub'));
  return { ca: p('ca.crt'), serverCert: p('apiserver.crt'), serverKey: p('apiserver.key'), adminCert: p('admin.crt'), adminKey: p('admin.key'), saKey: p('sa.key'), saPub: p('sa.pub') };
}
