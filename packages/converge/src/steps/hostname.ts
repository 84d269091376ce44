import type { Step } from '../step.js';
import { ABSENT } from '../util.js';

/** The running hostname (kernel) and the one the next boot uses (/etc/hostname). */
export const hostnameStep: Step = {
  name: 'Hostname',
  async observe(spec, ctx) {
    if (!spec.hostname) return [];
    const running = (await ctx.files.read('/proc/sys/kernel/hostname'))?.trim() ?? ABSENT;
    const file = (await ctx.files.read('/etc/hostname'))?.trim() || ABSENT;
    return [
      { item: 'hostname', found: running, set: spec.hostname },
      { item: '/etc/hostname', found: file, set: spec.hostname },
    ];
  },
  async apply(changes, ctx) {
    for (const change of changes) {
      if (change.item === '/etc/hostname') await ctx.writeFile('/etc/hostname', `${change.set}\n`, { mode: 0o644 });
      else await ctx.execute('hostname', [change.set]);
    }
  },
};
