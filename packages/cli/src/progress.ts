import type { FleetStatus, Reconciler } from '@herd/reconciler';
import { formatDuration } from '@herd/sys';

/**
 * What `herd up` shows while it works: one line per event (machine created, agent installed,
 * commit refused) and, on a terminal, a status line rewritten in place; elsewhere the status
 * line is printed only when it changes. Also times the phases for the benchmark.
 */
export class Progress {
  private status = '';
  private readonly marks = new Map<string, number>();
  private start = Date.now();

  constructor(private readonly out: NodeJS.WritableStream & { isTTY?: boolean }, private readonly enabled: boolean) {}

  private get tty(): boolean {
    return Boolean(this.out.isTTY);
  }

  line(text: string): void {
    if (!this.enabled) return;
    this.out.write(`${this.tty && this.status ? '\r\x1b[K' : ''}${text}\n`);
    if (this.tty && this.status) this.out.write(this.status);
  }

  private setStatus(text: string): void {
    if (!this.enabled || text === this.status) return;
    this.status = text;
    this.out.write(this.tty ? `\r\x1b[K${text}` : `${text}\n`);
  }

  follow(reconciler: Reconciler, started: number): void {
    this.start = started;
    const at = (mark: string) => this.marks.set(mark, Date.now());
    this.marks.set('coordinator', Date.now());
    reconciler.on('machine-created', (cluster, machine) => { at('machines'); this.line(`${cluster}: machine ${machine} created`); });
    reconciler.on('agent-installed', (cluster, machine) => { at('agents'); this.line(`${cluster}: agent installed on ${machine}`); });
    reconciler.on('machine-deleted', (cluster, machine) => this.line(`${cluster}: machine ${machine} deleted`));
    reconciler.on('action', (cluster, phase, description, durationMs) => {
      if (phase === 'done' && description.startsWith('init')) at('kubernetes');
      this.line(`${cluster}: ${phase === 'started' ? '' : `${phase} `}${description}${phase === 'done' ? ` (${formatDuration(durationMs)})` : ''}`);
    });
    reconciler.on('progress', (cluster, message) => this.line(`${cluster}: ${message}`));
    reconciler.on('rejected', (commit, errors) => this.line(`commit ${commit?.slice(0, 12) ?? '(working tree)'} refused: ${errors} error${errors === 1 ? '' : 's'} (herd validate shows them); the last good state stays in force`));
    reconciler.on('round', (status) => {
      if (status.converged && !this.marks.has('converged')) at('converged');
      this.setStatus(summarize(status, Date.now() - this.start));
    });
  }

  done(): void {
    if (this.enabled && this.tty && this.status) this.out.write('\n');
    this.status = '';
  }

  /** Milliseconds spent in each phase: setup (artifact, coordinator, Kubernetes packages), machines, agent install, kubeadm init, joins until every node is Ready. */
  phases(): Record<string, number> {
    const order = ['coordinator', 'machines', 'agents', 'kubernetes', 'converged'];
    const names: Record<string, string> = { coordinator: 'setup', machines: 'machines', agents: 'agentInstall', kubernetes: 'kubeadmInit', converged: 'joinAndReady' };
    const out: Record<string, number> = {};
    let previous = this.start;
    for (const mark of order) {
      const time = this.marks.get(mark);
      if (time === undefined) continue;
      out[names[mark]!] = time - previous;
      previous = time;
    }
    return out;
  }

  /** From the command's start to the first converged round, if there was one. */
  convergedAfterMs(): number | undefined {
    const at = this.marks.get('converged');
    return at === undefined ? undefined : at - this.start;
  }

  summary(): string {
    return Object.entries(this.phases()).map(([k, v]) => `${k} ${formatDuration(v)}`).join(', ');
  }
}

function summarize(status: FleetStatus, elapsedMs: number): string {
  const parts = status.clusters.map((c) => {
    const desired = c.pools.reduce((n, p) => n + p.desired, 0);
    const enrolled = c.machines.filter((m) => m.agent).length;
    const converged = c.machines.filter((m) => m.converged).length;
    const ready = c.kubernetes?.nodes.filter((n) => n.ready).length ?? 0;
    return `${c.name}: machines ${c.machines.length}/${desired}, agents ${enrolled}/${desired}, converged ${converged}/${desired}, nodes Ready ${ready}/${desired}`;
  });
  const rejected = status.rejected ? ' [newest commit refused]' : '';
  return `[${formatDuration(elapsedMs)}] ${parts.join(' | ') || 'no clusters'}${rejected}`;
}
