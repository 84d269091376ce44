import { ExecError } from '@herd/sys';
import type { InstalledPackage, PackageManager, PackageRequest } from './package-manager.js';
import { Reason, StepFailed, TIMEOUTS, type StepContext } from './step.js';

/** dpkg leaves files here while it works; any left over mean a dpkg run died half-way (dpkg's own check). */
const DPKG_UPDATES = '/var/lib/dpkg/updates';

const ENV = { DEBIAN_FRONTEND: 'noninteractive' };
const APT_GET = [
  '-y', '-q',
  // Keep configuration files an operator changed; never prompt.
  '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold',
  // Wait for a dpkg lock someone else holds instead of failing at once.
  '-o', 'DPkg::Lock::Timeout=120',
];
const HALF_DONE = new Set(['half-installed', 'unpacked', 'half-configured', 'triggers-awaited', 'triggers-pending']);

/** Debian and Ubuntu: dpkg-query to look, apt-get and apt-mark to change. */
export function aptPackageManager(): PackageManager {
  /** A package transaction. Maintainer scripts and dpkg report on stdout too: a failure carries both. */
  async function transaction(ctx: StepContext, command: string, args: string[]): Promise<void> {
    try {
      await ctx.execute(command, args, { env: ENV, timeoutMs: TIMEOUTS.packages });
    } catch (e) {
      if (!(e instanceof ExecError) || !e.stdout.trim()) throw e;
      throw new StepFailed(Reason.CommandFailed, `${e.message}\noutput:\n${e.stdout.trim().split('\n').slice(-10).join('\n')}`);
    }
  }
  const aptGet = (ctx: StepContext, args: string[]) => transaction(ctx, 'apt-get', [...args.slice(0, 1), ...APT_GET, ...args.slice(1)]);

  /** The (name, version) pairs apt can install, from one apt-cache call. */
  async function available(names: readonly string[], ctx: StepContext): Promise<Set<string>> {
    const result = await ctx.inspect('apt-cache', ['madison', ...names], { allowFailure: true });
    return new Set(result.stdout.split('\n').map((line) => line.split('|').map((f) => f.trim())).filter((f) => f.length >= 2).map(([n, v]) => `${n}=${v}`));
  }

  return {
    async query(names, ctx) {
      const found = new Map<string, InstalledPackage>();
      if (!names.length) return found;
      // Exit status 1 only means some names are unknown to dpkg: they are simply not installed.
      const result = await ctx.inspect('dpkg-query', ['-W', '-f=${Package}\t${Version}\t${Status}\n', ...names], { allowFailure: true });
      if (result.exitCode > 1) throw new ExecError(result.command, result.args, result.exitCode, undefined, false, result.stdout, result.stderr);
      for (const line of result.stdout.split('\n')) {
        const [name, version, status] = line.split('\t');
        if (!name || status === undefined) continue;
        const [want, flag, state] = status.split(' ');
        const installed = state === 'installed' || HALF_DONE.has(state ?? '');
        found.set(name, {
          name,
          version: installed ? version : undefined,
          held: want === 'hold',
          broken: HALF_DONE.has(state ?? '') ? state : flag === 'reinstreq' ? 'reinstall-required' : undefined,
        });
      }
      return found;
    },
    async interrupted(ctx) {
      const leftovers = await ctx.files.list(DPKG_UPDATES);
      return leftovers.length ? `dpkg was interrupted (${leftovers.length} files in ${DPKG_UPDATES})` : undefined;
    },
    async recover(ctx) {
      await transaction(ctx, 'dpkg', ['--force-confdef', '--force-confold', '--configure', '-a']);
      await aptGet(ctx, ['install', '-f']);
    },
    async install(packages, { allowDowngrade }, ctx) {
      const known = await available(packages.map((p) => p.name), ctx);
      if (ctx.round.aptSourcesChanged || packages.some((p) => !known.has(`${p.name}=${p.version}`))) {
        await transaction(ctx, 'apt-get', ['update', '-q']);
      }
      const flags = allowDowngrade ? ['--allow-downgrades', '--allow-change-held-packages'] : [];
      await aptGet(ctx, ['install', '--no-install-recommends', ...flags, ...packages.map((p: PackageRequest) => `${p.name}=${p.version}`)]);
    },
    async remove(names, ctx) {
      await aptGet(ctx, ['purge', ...names]);
    },
    async setHeld(names, held, ctx) {
      await ctx.execute('apt-mark', [held ? 'hold' : 'unhold', ...names]);
    },
  };
}
