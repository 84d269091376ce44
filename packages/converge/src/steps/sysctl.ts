import { ExecError } from '@herd/sys';
import { Reason, StepFailed, type Item, type Step } from '../step.js';
import { ABSENT, eachItem, fileItem } from '../util.js';

export const SYSCTL_FILE = '/etc/sysctl.d/90-herd.conf';

interface SysctlItem extends Item {
  content?: string;
}

/** Kernel parameters: in sysctl.d for every boot, and set now, one key at a time so a refusal names its key. */
export const sysctlStep: Step<SysctlItem> = {
  name: 'Sysctl',
  // Keys such as net.bridge.* exist only once their module (br_netfilter) is loaded.
  dependsOn: ['KernelModules'],
  async observe(spec, ctx) {
    const keys = Object.keys(spec.sysctls).sort();
    if (!keys.length) return [];
    const content = `# Written by herd.\n${keys.map((k) => `${k} = ${spec.sysctls[k]}`).join('\n')}\n`;
    const items: SysctlItem[] = [await fileItem(ctx.files, SYSCTL_FILE, content)];
    for (const key of keys) {
      const current = await ctx.files.read(`/proc/sys/${key.replaceAll('.', '/')}`);
      items.push({ item: key, found: current === undefined ? ABSENT : normalize(current), set: normalize(spec.sysctls[key]!) });
    }
    return items;
  },
  async apply(changes, ctx) {
    await eachItem(changes, async (change) => {
      if (change.content !== undefined) return ctx.writeFile(change.item, change.content, { mode: 0o644 });
      try {
        await ctx.execute('sysctl', ['-w', `${change.item}=${change.set}`]);
      } catch (e) {
        if (!(e instanceof ExecError)) throw e;
        throw new StepFailed(Reason.CommandFailed, `sysctl ${change.item} refused by the kernel: ${e.stderr.trim() || e.message}`);
      }
    });
  },
};

/** The kernel prints multi-value keys with tabs (ip_local_port_range); the spec may use spaces. */
function normalize(value: string): string {
  return value.trim().split(/\s+/).join(' ');
}
