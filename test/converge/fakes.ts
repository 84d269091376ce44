/**
 * Fakes for the engine's fast tests: an in-memory FileSystem and a scripted machine that
 * answers the commands the OS steps run (dpkg-query, apt-get, systemctl, sysctl...) from a
 * small model of a Debian machine. The same steps run for real in machine.test.ts.
 */
import { dirname } from 'node:path';
import { ExecError, type ExecOptions, type ExecResult, type Executor, type FileSystem, type FileInfo } from '@herd/sys';

interface FakeFile extends FileInfo {
  content: string;
}

export class FakeFileSystem implements FileSystem {
  readonly files = new Map<string, FakeFile>();
  /** Every change made, in order ("write PATH", "chmod PATH 644", ...). */
  readonly changes: string[] = [];
  /** Path prefixes that refuse writes like a read-only mount. */
  readonly readOnly: string[] = [];

  constructor(initial: Record<string, string> = {}) {
    for (const [path, content] of Object.entries(initial)) this.put(path, content);
  }

  /** Sets a file without counting it as a change (the world as the test arranges it). */
  put(path: string, content: string, info: Partial<FileInfo> = {}): void {
    this.files.set(path, { content, mode: 0o644, uid: 0, gid: 0, size: content.length, ...info });
  }

  private writable(path: string): void {
    if (this.readOnly.some((p) => path.startsWith(p))) {
      throw Object.assign(new Error(`EROFS: read-only file system, open '${path}'`), { code: 'EROFS' });
    }
  }

  async read(path: string) { return this.files.get(path)?.content; }
  async stat(path: string) {
    const file = this.files.get(path);
    if (file) return { mode: file.mode, uid: file.uid, gid: file.gid, size: file.size };
    return [...this.files.keys()].some((p) => p.startsWith(`${path}/`)) ? { mode: 0o755, uid: 0, gid: 0, size: 0 } : undefined;
  }
  async writeAtomic(path: string, content: string | Uint8Array, options: { mode?: number; uid?: number; gid?: number } = {}) {
    this.writable(path);
    this.changes.push(`write ${path}`);
    const text = typeof content === 'string' ? content : Buffer.from(content).toString();
    this.put(path, text, { mode: options.mode ?? 0o644, uid: options.uid ?? 0, gid: options.gid ?? 0 });
  }
  async chmod(path: string, mode: number) {
    this.writable(path);
    this.changes.push(`chmod ${path} ${mode.toString(8)}`);
    this.files.get(path)!.mode = mode;
  }
  async chown(path: string, uid: number, gid: number) {
    this.writable(path);
    this.changes.push(`chown ${path} ${uid}:${gid}`);
    Object.assign(this.files.get(path)!, { uid, gid });
  }
  async remove(path: string) {
    this.writable(path);
    this.changes.push(`remove ${path}`);
    this.files.delete(path);
  }
  async mkdirp(path: string) { this.writable(path); }
  async list(dir: string) {
    return [...this.files.keys()].filter((p) => dirname(p) === dir).map((p) => p.slice(dir.length + 1)).sort();
  }
}

interface FakePackage { version: string; held: boolean; state: string }
interface FakeUnit { enabled: boolean; active: boolean; failStart?: boolean; static?: boolean }

/** Answers one command; a promise that never settles stands for a process that never returns. */
type Handler = (args: readonly string[], options: ExecOptions) => Partial<ExecResult> | undefined | Promise<never>;

/**
 * A Debian machine in memory. `exec` answers the commands the steps use and refuses any
 * other; `calls` records every command line, so tests can assert what a round ran.
 */
export class FakeMachine {
  readonly fs = new FakeFileSystem({
    '/proc/sys/kernel/hostname': 'old-name\n',
    '/etc/hostname': 'old-name\n',
    '/proc/sys/kernel/osrelease': '6.1.0-18-amd64\n',
    '/proc/swaps': 'Filename\tType\tSize\tUsed\tPriority\n',
    '/proc/modules': 'overlay 151552 0 - Live 0x0\n',
    '/etc/fstab': '# <file system> <mount point> <type> <options> <dump> <pass>\n/dev/vda1 / ext4 defaults 0 1\n',
    '/etc/passwd': 'root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n',
    '/etc/group': 'root:x:0:\nwww-data:x:33:\n',
  });
  readonly packages = new Map<string, FakePackage>();
  /** Versions apt can install, per package (after apt-get update when `needsUpdate`). */
  readonly repository = new Map<string, string[]>();
  /** Versions the repository has that apt only sees after `apt-get update`. */
  readonly unfetched = new Map<string, string[]>();
  readonly units = new Map<string, FakeUnit>();
  /** sysctl keys the kernel refuses to set. */
  readonly refusedSysctls = new Set<string>();
  readonly calls: string[] = [];
  private readonly overrides = new Map<string, Handler>();

  readonly exec: Executor = {
    run: async (command, args, options = {}) => {
      this.calls.push([command, ...args].join(' '));
      if (options.timeoutMs === undefined) throw new Error(`${command} run without a timeout`);
      const answer = (await (this.overrides.get(command) ?? ((a, o) => this.answer(command, a, o)))(args, options)) ?? {};
      const result: ExecResult = { command, args, exitCode: 0, stdout: '', stderr: '', durationMs: 1, ...answer };
      if (result.exitCode !== 0 && !options.allowFailure) {
        throw new ExecError(command, args, result.exitCode, undefined, false, result.stdout, result.stderr);
      }
      return result;
    },
  };

  /** Replaces how one command is answered (return undefined for a plain success). */
  script(command: string, handler: Handler): void {
    this.overrides.set(command, handler);
  }

  sysctl(key: string, value: string): void {
    this.fs.put(`/proc/sys/${key.replaceAll('.', '/')}`, `${value}\n`);
  }

  /** Commands run since the last call (and forgets them). */
  takeCalls(): string[] {
    return this.calls.splice(0);
  }

  private answer(command: string, args: readonly string[], options: ExecOptions): Partial<ExecResult> | undefined {
    switch (command) {
      case 'dpkg-query': return this.dpkgQuery(args.slice(2));
      case 'apt-cache': return { stdout: args.slice(1).flatMap((n) => (this.repository.get(n) ?? []).map((v) => ` ${n} | ${v} | http://repo ./ Packages\n`)).join('') };
      case 'apt-get': return this.aptGet(args, options);
      case 'apt-mark': {
        for (const name of args.slice(1)) { const p = this.packages.get(name); if (p) p.held = args[0] === 'hold'; }
        return undefined;
      }
      case 'dpkg': {
        for (const p of this.packages.values()) p.state = 'installed';
        return undefined;
      }
      case 'systemctl': return this.systemctl(args);
      case 'journalctl': return { stdout: 'app: bad config\n' };
      case 'sysctl': {
        const [key, value] = args[1]!.split('=') as [string, string];
        if (this.refusedSysctls.has(key)) return { exitCode: 255, stderr: `sysctl: permission denied on key "${key}"\n` };
        this.sysctl(key, value);
        return undefined;
      }
      case 'modprobe': return { exitCode: 1, stderr: `modprobe: ERROR: could not insert '${args[1]}': Operation not permitted\n` };
      case 'swapoff': this.fs.put('/proc/swaps', 'Filename\tType\tSize\tUsed\tPriority\n'); return undefined;
      case 'hostname': this.fs.put('/proc/sys/kernel/hostname', `${args[0]}\n`); return undefined;
      default: throw new Error(`FakeMachine: unexpected command ${command} ${args.join(' ')}`);
    }
  }

  private dpkgQuery(names: readonly string[]): Partial<ExecResult> {
    const lines = names.filter((n) => this.packages.has(n)).map((n) => {
      const p = this.packages.get(n)!;
      return `${n}\t${p.version}\t${p.held ? 'hold' : 'install'} ok ${p.state}\n`;
    });
    const missing = names.filter((n) => !this.packages.has(n));
    return { stdout: lines.join(''), exitCode: missing.length ? 1 : 0, stderr: missing.map((n) => `dpkg-query: no packages found matching ${n}\n`).join('') };
  }

  private aptGet(args: readonly string[], options: ExecOptions): Partial<ExecResult> | undefined {
    if (options.env?.DEBIAN_FRONTEND !== 'noninteractive') throw new Error('apt-get run without DEBIAN_FRONTEND=noninteractive');
    const [verb] = args;
    const targets = args.filter((a) => !a.startsWith('-') && a !== verb && !a.includes('::'));
    if (verb === 'update') {
      for (const [name, versions] of this.unfetched) this.repository.set(name, [...(this.repository.get(name) ?? []), ...versions]);
      this.unfetched.clear();
      return undefined;
    }
    if (verb === 'purge') {
      for (const name of targets) {
        if (this.packages.get(name)?.held && !args.includes('--allow-change-held-packages')) return { exitCode: 100, stderr: 'E: Held packages were changed and -y was used without --allow-change-held-packages.\n' };
      }
      for (const name of targets) this.packages.delete(name);
      return undefined;
    }
    if (verb === 'install' && args.includes('-f')) return undefined;
    const wanted = targets.map((t) => t.split('=') as [string, string]);
    for (const [name, version] of wanted) {
      if (!(this.repository.get(name) ?? []).includes(version)) return { exitCode: 100, stderr: `E: Version '${version}' for '${name}' was not found\n` };
      const have = this.packages.get(name);
      if (have?.held && !args.includes('--allow-change-held-packages')) return { exitCode: 100, stderr: 'E: Held packages were changed and -y was used without --allow-change-held-packages.\n' };
      if (have && have.version > version && !args.includes('--allow-downgrades')) return { exitCode: 100, stderr: 'E: Packages were downgraded and -y was used without --allow-downgrades.\n' };
    }
    for (const [name, version] of wanted) this.packages.set(name, { version, held: this.packages.get(name)?.held ?? false, state: 'installed' });
    return undefined;
  }

  private systemctl(args: readonly string[]): Partial<ExecResult> | undefined {
    const [verb, ...rest] = args;
    // systemd 252 reads a unit it had not found from disk on the unit's next use, once a file
    // for it exists (its unit cache sees the directory change); a loaded unit only on a reload.
    const loadNew = (name: string) => {
      if (!this.units.has(name) && this.fs.files.has(`/etc/systemd/system/${name}`)) this.units.set(name, { enabled: false, active: false });
    };
    if (verb === 'show') {
      const names = rest.slice(rest.indexOf('--') + 1);
      names.forEach(loadNew);
      return {
        stdout: names.map((n) => {
          const u = this.units.get(n);
          if (!u) return `Id=${n}\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\n`;
          return `Id=${n}\nLoadState=loaded\nActiveState=${u.active ? 'active' : 'inactive'}\nUnitFileState=${u.static ? 'static' : u.enabled ? 'enabled' : 'disabled'}\n`;
        }).join('\n'),
      };
    }
    // daemon-reload loads unit files written since; enable and disable (without --no-reload)
    // work on the files on disk and reload systemd afterwards, as systemctl does.
    if (verb === 'daemon-reload' || ((verb === 'enable' || verb === 'disable') && !rest.includes('--no-reload'))) {
      for (const path of this.fs.files.keys()) {
        if (path.startsWith('/etc/systemd/system/') && !this.units.has(path.slice(20))) this.units.set(path.slice(20), { enabled: false, active: false });
      }
      if (verb === 'daemon-reload') return undefined;
    }
    const name = rest.find((a) => !a.startsWith('-'))!;
    loadNew(name);
    const unit = this.units.get(name);
    if (!unit) return { exitCode: 5, stderr: `Failed to ${verb} ${name}: Unit ${name} not found.\n` };
    if ((verb === 'start' || verb === 'restart') && unit.failStart) {
      return { exitCode: 1, stderr: `Job for ${name} failed because the control process exited with error code.\n` };
    }
    if (verb === 'enable' || verb === 'disable') unit.enabled = verb === 'enable';
    if (verb === 'start' || verb === 'restart' || verb === 'stop') unit.active = verb !== 'stop';
    return undefined;
  }
}
