import { ExecError, type Executor, type FileSystem } from '@herd/sys';

const TIMEOUT = { timeoutMs: 30_000 };
const MISSING = /No such file or directory/;

/**
 * A FileSystem that works inside a machine through its Executor (nsenter), so the engine
 * on the host sees exactly what the machine sees, /run and /proc included (the rootfs
 * seen from the host has neither). Paths and modes travel as arguments, never as shell text.
 */
export function machineFileSystem(exec: Executor): FileSystem {
  const missingIsUndefined = <T>(result: { exitCode: number; stderr: string; command: string; args: readonly string[]; stdout: string }, value: () => T): T | undefined => {
    if (result.exitCode === 0) return value();
    if (MISSING.test(result.stderr)) return undefined;
    throw new ExecError(result.command, result.args, result.exitCode, undefined, false, result.stdout, result.stderr);
  };
  return {
    async read(path) {
      const result = await exec.run('cat', ['--', path], { ...TIMEOUT, allowFailure: true });
      return missingIsUndefined(result, () => result.stdout);
    },
    async stat(path) {
      const result = await exec.run('stat', ['-L', '-c', '%a %u %g %s', '--', path], { ...TIMEOUT, allowFailure: true });
      return missingIsUndefined(result, () => {
        const [mode, uid, gid, size] = result.stdout.trim().split(' ');
        return { mode: parseInt(mode!, 8), uid: Number(uid), gid: Number(gid), size: Number(size) };
      });
    },
    async writeAtomic(path, content, options = {}) {
      // A fixed script; the path, mode and owner are its positional parameters.
      const script = 'set -e; d=$(dirname "$1"); t="$d/.$(basename "$1").herd-tmp"; trap \'rm -f "$t"\' EXIT; mkdir -p "$d"; cat > "$t"; chmod "$2" "$t"; if [ -n "$3" ]; then chown "$3" "$t"; fi; mv -f "$t" "$1"';
      const owner = options.uid !== undefined && options.gid !== undefined ? `${options.uid}:${options.gid}` : '';
      const input = typeof content === 'string' ? content : Buffer.from(content).toString();
      await exec.run('sh', ['-c', script, 'sh', path, (options.mode ?? 0o644).toString(8), owner], { ...TIMEOUT, input });
    },
    async chmod(path, mode) { await exec.run('chmod', [mode.toString(8), '--', path], TIMEOUT); },
    async chown(path, uid, gid) { await exec.run('chown', [`${uid}:${gid}`, '--', path], TIMEOUT); },
    async remove(path) { await exec.run('rm', ['-rf', '--', path], TIMEOUT); },
    async mkdirp(path, mode) { await exec.run('mkdir', ['-p', ...(mode === undefined ? [] : ['-m', mode.toString(8)]), '--', path], TIMEOUT); },
    async list(dir) {
      const result = await exec.run('ls', ['-A', '--', dir], { ...TIMEOUT, allowFailure: true });
      return missingIsUndefined(result, () => result.stdout.split('\n').filter(Boolean).sort()) ?? [];
    },
  };
}
