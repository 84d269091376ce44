import { ExecError } from '@herd/sys';
import type { Item, Step } from '../step.js';
import { eachItem, fileItem } from '../util.js';

export const MODULES_FILE = '/etc/modules-load.d/herd.conf';

/** The kernel answers like this when a container may not load modules: not herd's failure. */
const REFUSED = /Operation not permitted|Permission denied|Read-only file system/i;

interface ModuleItem extends Item {
  /** The file content to write, on the file's item. */
  content?: string;
}

/**
 * Modules listed for every boot (systemd-modules-load reads modules-load.d) and loaded now.
 * Loading is best effort where it cannot work: the kernel refuses for lack of permission,
 * or the machine has no module tree for its running kernel (a container shares the host's
 * kernel, not its /lib/modules). That is a warning on the condition, not a failure; any
 * other modprobe error (a module that does not exist) fails the step.
 */
export const kernelModulesStep: Step<ModuleItem> = {
  name: 'KernelModules',
  async observe(spec, ctx) {
    if (!spec.kernelModules.length) return [];
    const content = `# Written by herd: modules loaded at boot.\n${spec.kernelModules.join('\n')}\n`;
    const items: ModuleItem[] = [await fileItem(ctx.files, MODULES_FILE, content)];
    const listed = new Set(((await ctx.files.read('/proc/modules')) ?? '').split('\n').map((l) => l.split(' ')[0]));
    for (const module of spec.kernelModules) {
      const name = module.replaceAll('-', '_');
      // Built-in modules never show in /proc/modules, but do in /sys/module.
      const loaded = listed.has(name) || (await ctx.files.stat(`/sys/module/${name}`)) !== undefined;
      items.push({ item: module, found: loaded ? 'loaded' : 'not loaded', set: 'loaded' });
    }
    return items;
  },
  async apply(changes, ctx) {
    await eachItem(changes, async (change) => {
      if (change.content !== undefined) return ctx.writeFile(change.item, change.content, { mode: 0o644 });
      try {
        await ctx.execute('modprobe', ['--', change.item]);
      } catch (e) {
        if (!(e instanceof ExecError)) throw e;
        if (REFUSED.test(e.stderr)) return ctx.warn(change.item, `not loaded, the kernel refused: ${e.stderr.trim()}`);
        const release = (await ctx.files.read('/proc/sys/kernel/osrelease'))?.trim();
        if (release && !(await ctx.files.stat(`/lib/modules/${release}`))) {
          return ctx.warn(change.item, `not loaded: no /lib/modules/${release} on this machine (a container?)`);
        }
        throw e;
      }
    });
  },
};
