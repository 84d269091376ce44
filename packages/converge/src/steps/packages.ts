import type { Package__Output } from '@herd/proto';
import type { InstalledPackage, PackageManager } from '../package-manager.js';
import type { Item, Repairing, Step, StepContext } from '../step.js';
import { ABSENT } from '../util.js';

interface PackageItem extends Item {
  want: Package__Output;
  have: InstalledPackage | undefined;
}

function describe(version: string | undefined, held: boolean, broken?: string): string {
  if (version === undefined) return ABSENT;
  return `${version}${held ? ' held' : ''}${broken ? ` (${broken})` : ''}`;
}

/**
 * OS packages at exact versions, held when the spec says so; `absent` ones purged.
 * Packages the spec no longer lists are left alone. One batched query per round; a
 * package transaction only for what differs.
 */
export function packagesStep(pm: PackageManager): Step<PackageItem> & Repairing {
  async function withUnheld(items: PackageItem[], ctx: StepContext, fn: () => Promise<void>): Promise<void> {
    // A held package cannot be changed: lift its hold for the transaction, and put it back if that fails.
    const held = items.filter((i) => i.have?.held).map((i) => i.want.name);
    if (held.length) await pm.setHeld(held, false, ctx);
    try {
      await fn();
    } catch (e) {
      if (held.length) await pm.setHeld(held, true, ctx).catch((again: unknown) => ctx.logger.error({ err: again }, 'could not restore holds'));
      throw e;
    }
  }

  /**
   * Recovery fails while a broken package's own scripts fail; installing the version the
   * spec wants may still fix it, so the install goes ahead and speaks for itself.
   */
  async function recover(ctx: StepContext): Promise<string | undefined> {
    try {
      await pm.recover(ctx);
      return undefined;
    } catch (e) {
      ctx.logger.warn({ err: e }, 'package recovery failed');
      return e instanceof Error ? e.message : String(e);
    }
  }

  return {
    name: 'Packages',
    dependsOn: ['AptSources'],
    async repair(_spec, ctx) {
      const interrupted = await pm.interrupted(ctx);
      if (!interrupted) return undefined;
      const failure = await recover(ctx);
      return failure ? `${interrupted}; recovery failed: ${failure}` : `recovered: ${interrupted}`;
    },
    async observe(spec, ctx) {
      const installed = await pm.query(spec.packages.map((p) => p.name), ctx);
      return spec.packages.map((want) => {
        const have = installed.get(want.name);
        return {
          item: want.name,
          found: describe(have?.version, have?.held ?? false, have?.broken),
          set: want.absent ? ABSENT : describe(want.version, want.hold),
          want,
          have,
        };
      });
    },
    async apply(changes, ctx) {
      // A half-installed package of ours (dpkg killed in a way that left no updates/ files).
      if (changes.some((c) => c.have?.broken)) await recover(ctx);

      const removals = changes.filter((c) => c.want.absent && c.have?.version !== undefined);
      if (removals.length) await withUnheld(removals, ctx, () => pm.remove(removals.map((c) => c.want.name), ctx));

      const present = changes.filter((c) => !c.want.absent);
      const installs = present.filter((c) => c.have?.version !== c.want.version || c.have?.broken);
      for (const allowDowngrade of [false, true]) {
        const batch = installs.filter((c) => c.want.allowDowngrade === allowDowngrade);
        if (batch.length) await withUnheld(batch, ctx, () => pm.install(batch.map((c) => c.want), { allowDowngrade }, ctx));
      }

      const hold = present.filter((c) => c.want.hold && (!c.have?.held || installs.includes(c))).map((c) => c.want.name);
      const unhold = present.filter((c) => !c.want.hold && c.have?.held && !installs.includes(c)).map((c) => c.want.name);
      if (hold.length) await pm.setHeld(hold, true, ctx);
      if (unhold.length) await pm.setHeld(unhold, false, ctx);
    },
  };
}
