import { promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import type { StaticProviderSpec } from '@herd/api';
import {
  HostKeyMismatchError, LABEL, MachineNotFoundError, ProviderError, ProviderUnavailableError, QuotaExceededError, TransientProviderError,
  type AgentInstall, type Machine, type MachineRequest, type Provider, type ProviderContext,
} from '@herd/provider';
import { createExecutor, ExecError, type Executor, type Logger } from '@herd/sys';

type StaticMachineSpec = StaticProviderSpec['machines'][number];

/** Where a machine records that herd claimed it, and for what: the labels live on the machine. */
export const CLAIM_FILE = '/etc/herd/machine.json';

/** What CLAIM_FILE holds. */
interface Claim {
  name: string;
  labels: Record<string, string>;
  createdAt: string;
}

export interface StaticProviderOptions {
  spec: StaticProviderSpec;
  cluster: string;
  /** The private key's content (from the repository file `spec.keyFile`). */
  privateKey: string;
  /** This cluster's own directory: the key file and the known_hosts files live here. */
  dir: string;
  exec?: Executor;
  logger: Logger;
  /** How many machines are read at once by list(). */
  parallelism?: number;
}

const READ_TIMEOUT_MS = 30_000;
const CLAIM_TIMEOUT_MS = 30_000;
/** The agent's stop may take its TimeoutStopSec (90 s) to end a round. */
const RELEASE_TIMEOUT_MS = 150_000;
const INSTALL_TIMEOUT_MS = 300_000;

/**
 * `static`: the machines exist already, listed in the spec. herd "creates" by claiming a
 * free one (writing CLAIM_FILE on it over SSH) and "deletes" by releasing it (stopping and
 * removing the agent, then the claim). The inventory is read from the machines themselves
 * on every list(), so a coordinator that lost its state directory finds what it claimed.
 * Host keys are pinned: given in the spec, or recorded on first contact; a changed key is
 * refused with HostKeyMismatchError, never retried around.
 */
export class StaticProvider implements Provider {
  readonly kind = 'static';
  private readonly exec: Executor;
  private readonly machines: Map<string, StaticMachineSpec>;
  /** Names claimed as of the last list() (and since, by this process). */
  private readonly claimed = new Set<string>();
  private coordinatorAddress?: Promise<string>;
  private prepared?: Promise<void>;

  constructor(private readonly options: StaticProviderOptions) {
    this.exec = options.exec ?? createExecutor({ logger: options.logger });
    this.machines = new Map(options.spec.machines.map((m) => [m.name, m]));
  }

  private get keyFile(): string { return join(this.options.dir, 'id'); }
  /** Keys recorded on first contact (StrictHostKeyChecking=accept-new). */
  private get knownHosts(): string { return join(this.options.dir, 'known_hosts'); }
  /** Keys given in the spec, rewritten from it every time (StrictHostKeyChecking=yes). */
  private get pinnedHosts(): string { return join(this.options.dir, 'known_hosts.pinned'); }
  private get user(): string { return this.options.spec.user ?? 'root'; }

  async list(selector: Record<string, string>): Promise<Machine[]> {
    const specs = [...this.machines.values()];
    const claims = await mapLimit(specs, this.options.parallelism ?? 8, (m) => this.readClaim(m));
    const out: Machine[] = [];
    specs.forEach((m, i) => {
      const claim = claims[i];
      if (claim) this.claimed.add(m.name);
      else this.claimed.delete(m.name);
      if (claim && Object.entries(selector).every(([k, v]) => claim.labels[k] === v)) out.push(describe(m, claim));
    });
    return out;
  }

  newMachineName(_cluster: string, _pool: string, taken: ReadonlySet<string>): string {
    // A fixed inventory: the name is the machine's, so the pool is not part of it.
    for (const name of this.machines.keys()) {
      if (!taken.has(name) && !this.claimed.has(name)) return name;
    }
    throw new QuotaExceededError(`every machine listed for cluster ${this.options.cluster} is in use (${this.machines.size} in the spec); list more under spec.provider.machines`);
  }

  async create(request: MachineRequest): Promise<Machine> {
    const m = this.machine(request.name);
    const claim: Claim = { name: m.name, labels: { ...request.labels }, createdAt: new Date().toISOString() };
    // One script for check-and-write: an existing claim wins and is returned as it is.
    const script = [
      'set -eu', 'umask 022', `mkdir -p ${shellQuote(dirOf(CLAIM_FILE))}`,
      `if [ ! -e ${shellQuote(CLAIM_FILE)} ]; then`,
      `  cat > ${shellQuote(`${CLAIM_FILE}.herd-tmp`)}`,
      `  mv -f ${shellQuote(`${CLAIM_FILE}.herd-tmp`)} ${shellQuote(CLAIM_FILE)}`,
      'fi',
      `cat ${shellQuote(CLAIM_FILE)}`,
    ].join('\n');
    const { stdout } = await this.ssh(m, ['sh', '-c', script], { input: `${JSON.stringify(claim, null, 2)}\n`, timeoutMs: CLAIM_TIMEOUT_MS });
    const held = parseClaim(m, stdout);
    if (!held) throw new ProviderError(`machine ${m.name} (${m.address}): ${CLAIM_FILE} is not a herd claim`);
    const heldCluster = held.labels[LABEL.cluster];
    const wantedCluster = request.labels[LABEL.cluster];
    if (heldCluster !== wantedCluster) {
      throw new ProviderError(`machine ${m.name} (${m.address}) is claimed by cluster ${heldCluster ?? '(none)'}, not ${wantedCluster ?? '(none)'}; release it there first`);
    }
    this.claimed.add(m.name);
    if (held.createdAt === claim.createdAt) this.options.logger.info({ machine: m.name, address: m.address }, 'static machine claimed');
    return describe(m, held);
  }

  async delete(name: string): Promise<void> {
    const m = this.machines.get(name);
    if (!m) return; // never one of ours: absent is fine
    const claim = await this.readClaim(m);
    if (!claim) { this.claimed.delete(name); return; }
    const cluster = claim.labels[LABEL.cluster];
    if (cluster !== undefined && cluster !== this.options.cluster) {
      throw new ProviderError(`machine ${name} (${m.address}) is claimed by cluster ${cluster}, not ${this.options.cluster}; refusing to release it`);
    }
    // The agent first (it ends its round on SIGTERM), the claim last: a release cut short
    // leaves a claimed machine that delete() finishes, never an agent on a free one.
    await this.ssh(m, ['sh', '-c', RELEASE_SCRIPT], { timeoutMs: RELEASE_TIMEOUT_MS });
    this.claimed.delete(name);
    this.options.logger.info({ machine: name, address: m.address }, 'static machine released');
  }

  async installAgent(name: string, install: AgentInstall): Promise<void> {
    const m = this.machines.get(name);
    if (!m) throw new MachineNotFoundError(name);
    if (!(await this.readClaim(m))) throw new MachineNotFoundError(name);
    const tmp = (await this.ssh(m, ['mktemp', '-d', '/var/tmp/herd-agent.XXXXXXXX'], { timeoutMs: READ_TIMEOUT_MS, raw: true })).stdout.trim();
    if (!/^\/var\/tmp\/herd-agent\.[A-Za-z0-9]+$/.test(tmp)) throw new ProviderError(`machine ${name}: mktemp gave ${JSON.stringify(tmp)}`);
    try {
      const target = `${tmp}/${basename(install.artifactDir) || 'artifact'}`;
      await this.run(m, 'scp', [...this.sshOptions(m), '-P', String(m.port ?? 22), '-q', '-r', install.artifactDir, `${this.user}@${m.address}:${target}`], { timeoutMs: INSTALL_TIMEOUT_MS });
      // The script goes on standard input and writes the token to a 0600 file with a shell
      // builtin, so the token is in no argument list (ours, ssh's or the machine's) and in no
      // log or error message; install-agent.sh reads it from there. The copy is this install's
      // alone (removed below), so the script moves its files into place (--move).
      const tokenFile = `${tmp}/token`;
      const command = [...this.sudo(), 'bash', `${target}/install-agent.sh`,
        '--coordinator', install.coordinator, '--ca-hash', install.caHash, '--token-file', tokenFile, '--node', name, '--move'];
      const script = `set -e\n(umask 077 && printf '%s\\n' ${shellQuote(install.token)} > ${shellQuote(tokenFile)})\n${command.map(shellQuote).join(' ')}\n`;
      await this.ssh(m, ['bash', '-s'], { input: script, timeoutMs: INSTALL_TIMEOUT_MS, raw: true });
    } finally {
      await this.ssh(m, ['rm', '-rf', tmp], { timeoutMs: READ_TIMEOUT_MS, raw: true })
        .catch((e: unknown) => this.options.logger.warn({ machine: name, err: e }, `could not remove ${tmp}`));
    }
    this.options.logger.info({ machine: name, address: m.address }, 'agent installed over SSH');
  }

  coordinatorHost(): Promise<string> {
    this.coordinatorAddress ??= this.routeSource().catch((e: unknown) => { this.coordinatorAddress = undefined; throw e; });
    return this.coordinatorAddress;
  }

  async close(): Promise<void> { /* one ssh process per command: nothing held */ }

  /** The host's address on the route to the first machine: where the machines reach the coordinator. */
  private async routeSource(): Promise<string> {
    const first = this.options.spec.machines[0];
    if (!first) throw new ProviderUnavailableError('the static provider lists no machine');
    const { stdout } = await this.exec.run('ip', ['-o', 'route', 'get', first.address], { timeoutMs: 10_000 }).catch((e: unknown) => {
      throw new ProviderUnavailableError(`no route from this host to ${first.name} (${first.address}): ${(e as Error).message}`, { cause: e });
    });
    const src = /\bsrc (\S+)/.exec(stdout)?.[1];
    if (!src) throw new ProviderUnavailableError(`no source address on the route to ${first.name} (${first.address}): ${stdout.trim()}`);
    return src;
  }

  private machine(name: string): StaticMachineSpec {
    const m = this.machines.get(name);
    if (!m) throw new ProviderError(`machine ${name} is not listed under spec.provider.machines of cluster ${this.options.cluster}; the static provider only claims listed machines`);
    return m;
  }

  /** The claim on the machine, or undefined when it is free. */
  private async readClaim(m: StaticMachineSpec): Promise<Claim | undefined> {
    const { stdout } = await this.ssh(m, ['sh', '-c', `if [ -e ${shellQuote(CLAIM_FILE)} ]; then cat ${shellQuote(CLAIM_FILE)}; fi`], { timeoutMs: READ_TIMEOUT_MS });
    if (!stdout.trim()) return undefined;
    const claim = parseClaim(m, stdout);
    if (!claim) throw new ProviderError(`machine ${m.name} (${m.address}): ${CLAIM_FILE} is not a herd claim; fix or remove it by hand`);
    return claim;
  }

  /** `sudo -n` for a user other than root: every remote command needs root. */
  private sudo(): string[] {
    return this.user === 'root' ? [] : ['sudo', '-n'];
  }

  private sshOptions(m: StaticMachineSpec): string[] {
    const pinned = m.hostKey !== undefined;
    return [
      '-F', '/dev/null', // no user or system ssh_config: only what is here applies
      '-i', this.keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none',
      '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'ServerAliveInterval=10', '-o', 'ServerAliveCountMax=3',
      '-o', `UserKnownHostsFile=${pinned ? this.pinnedHosts : this.knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', `StrictHostKeyChecking=${pinned ? 'yes' : 'accept-new'}`, '-o', 'HashKnownHosts=no',
      '-o', 'UpdateHostKeys=no', '-o', 'CheckHostIP=no', '-o', 'LogLevel=ERROR',
    ];
  }

  /**
   * Runs a command on the machine as root (through `sudo -n` for another user). The words
   * are quoted for the remote shell one by one. `raw`: the words already include what they need.
   */
  private async ssh(m: StaticMachineSpec, words: readonly string[], opts: { input?: string; timeoutMs: number; raw?: boolean }) {
    const remote = [...(opts.raw ? [] : this.sudo()), ...words].map(shellQuote).join(' ');
    return this.run(m, 'ssh', [...this.sshOptions(m), '-p', String(m.port ?? 22), '-l', this.user, '--', m.address, remote], opts);
  }

  /** ssh or scp, their failures turned into typed errors. */
  private async run(m: StaticMachineSpec, command: 'ssh' | 'scp', args: string[], opts: { input?: string; timeoutMs: number }) {
    await this.prepare();
    try {
      return await this.exec.run(command, args, { timeoutMs: opts.timeoutMs, ...(opts.input !== undefined ? { input: opts.input } : {}) });
    } catch (e) {
      throw this.classify(m, command, e);
    }
  }

  private classify(m: StaticMachineSpec, command: string, e: unknown): Error {
    if (!(e instanceof ExecError)) return e as Error;
    const stderr = e.stderr;
    if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/i.test(stderr)) {
      const where = m.hostKey !== undefined ? 'pinned in the spec' : `recorded in ${this.knownHosts}`;
      return new HostKeyMismatchError(m.name, m.address, `It does not match the key ${where}; if the machine was reinstalled, ${m.hostKey !== undefined ? 'update spec.provider.machines[].hostKey' : `remove its line from ${this.knownHosts}`} after checking the new key out of band.`);
    }
    if (e.exitCode === undefined && !e.timedOut && !e.signal) {
      return new ProviderUnavailableError(`${command} cannot run on this host (install openssh-client): ${e.stderr || e.message}`, { cause: e });
    }
    const detail = stderr.trim().split('\n').slice(-3).join(' ');
    if (/Permission denied|Too many authentication failures/i.test(stderr)) {
      return new ProviderUnavailableError(`cannot log in to ${m.name} (${m.address}) as ${this.user} with the key from ${this.options.spec.keyFile}: ${detail}`, { cause: e });
    }
    if (e.timedOut || e.signal || e.exitCode === 255 || (command === 'scp' && /Connection|lost|timed out|No route/i.test(stderr))) {
      return new TransientProviderError(`machine ${m.name} (${m.address}) is unreachable over SSH${e.timedOut ? ' (timed out)' : ''}: ${detail}`, { cause: e });
    }
    if (/sudo: a password is required|sudo: .*not found/i.test(stderr)) {
      return new ProviderUnavailableError(`${this.user} on ${m.name} (${m.address}) needs passwordless sudo: ${detail}`, { cause: e });
    }
    return new ProviderError(`on ${m.name} (${m.address}): ${command} exited ${e.exitCode}: ${detail}`, { cause: e });
  }

  /** The key file (0600) and the pinned known_hosts, written once per provider from the spec. */
  private prepare(): Promise<void> {
    this.prepared ??= (async () => {
      await fs.mkdir(this.options.dir, { recursive: true, mode: 0o700 });
      const key = this.options.privateKey.endsWith('\n') ? this.options.privateKey : `${this.options.privateKey}\n`;
      await fs.rm(this.keyFile, { force: true });
      await fs.writeFile(this.keyFile, key, { mode: 0o600 });
      const pinned = this.options.spec.machines.filter((m) => m.hostKey !== undefined)
        .map((m) => `${knownHostsName(m)} ${m.hostKey!.trim()}\n`).join('');
      await fs.writeFile(this.pinnedHosts, pinned, { mode: 0o600 });
    })().catch((e: unknown) => { this.prepared = undefined; throw e; });
    return this.prepared;
  }
}

/** Stops and removes the agent, then the claim; nothing else on the machine is touched. Idempotent. */
const RELEASE_SCRIPT = [
  'set -u',
  'if [ -e /etc/systemd/system/herd-agent.service ]; then systemctl disable --now --quiet herd-agent.service || true; fi',
  'rm -f /etc/systemd/system/herd-agent.service /usr/local/bin/herd-agent /etc/herd/agent.env',
  'rm -rf /opt/herd/agent /var/lib/herd-agent',
  'systemctl daemon-reload || true',
  `rm -f ${shellQuote(CLAIM_FILE)} ${shellQuote(`${CLAIM_FILE}.herd-tmp`)}`,
  'rmdir /opt/herd /etc/herd 2>/dev/null || true',
].join('\n');

function describe(m: StaticMachineSpec, claim: Claim): Machine {
  return { name: m.name, labels: { ...claim.labels }, addresses: [m.address], state: 'running', createdAt: claim.createdAt };
}

function parseClaim(m: StaticMachineSpec, text: string): Claim | undefined {
  try {
    const c = JSON.parse(text) as Partial<Claim>;
    if (c.name !== m.name || typeof c.createdAt !== 'string' || typeof c.labels !== 'object' || c.labels === null) return undefined;
    return { name: c.name, labels: c.labels, createdAt: c.createdAt };
  } catch {
    return undefined;
  }
}

/** How known_hosts names a host: the address, or `[address]:port` off port 22. */
function knownHostsName(m: StaticMachineSpec): string {
  return (m.port ?? 22) === 22 ? m.address : `[${m.address}]:${m.port}`;
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}

/** One word for a POSIX shell: ssh hands the remote side a command line, never an argument array. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The factory the registry calls for `spec.provider.kind: static`. */
export async function createStaticProvider(spec: StaticProviderSpec, context: ProviderContext): Promise<StaticProvider> {
  let privateKey: string;
  try {
    privateKey = await context.readRepositoryFile(spec.keyFile);
  } catch (e) {
    throw new ProviderUnavailableError(`cannot read the SSH key ${spec.keyFile} from the repository: ${(e as Error).message}`, { cause: e });
  }
  // Per cluster: the provider's directory is shared by every cluster of this kind.
  return new StaticProvider({ spec, cluster: context.cluster, privateKey, dir: join(context.stateDir, context.cluster), logger: context.logger });
}
