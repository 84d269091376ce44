import type { Step } from '../step.js';

const FSTAB = '/etc/fstab';

/** Kubernetes' kubelet refuses to run with swap on: off now (swapoff) and at boot (fstab). */
export const swapStep: Step = {
  name: 'Swap',
  async observe(spec, ctx) {
    if (!spec.swapOff) return [];
    const active = activeSwaps((await ctx.files.read('/proc/swaps')) ?? '');
    const entries = fstabSwapLines((await ctx.files.read(FSTAB)) ?? '').length;
    return [
      { item: 'active swap', found: active.join(', ') || 'none', set: 'none' },
      { item: FSTAB, found: `${entries} swap entries`, set: '0 swap entries' },
    ];
  },
  async apply(changes, ctx) {
    for (const change of changes) {
      if (change.item === FSTAB) {
        const fstab = (await ctx.files.read(FSTAB)) ?? '';
        const mode = (await ctx.files.stat(FSTAB))?.mode ?? 0o644;
        await ctx.writeFile(FSTAB, commentOutSwap(fstab), { mode });
      } else {
        await ctx.execute('swapoff', ['-a']);
      }
    }
  },
};

/** Devices listed in /proc/swaps (the first line is a header). */
export function activeSwaps(procSwaps: string): string[] {
  return procSwaps.split('\n').slice(1).map((l) => l.split(/\s+/)[0] ?? '').filter(Boolean);
}

function isSwapLine(line: string): boolean {
  if (line.trim().startsWith('#')) return false;
  return line.trim().split(/\s+/)[2] === 'swap';
}

export function fstabSwapLines(fstab: string): string[] {
  return fstab.split('\n').filter(isSwapLine);
}

export function commentOutSwap(fstab: string): string {
  return fstab.split('\n').map((line) => (isSwapLine(line) ? `# swap off (herd): ${line}` : line)).join('\n');
}
