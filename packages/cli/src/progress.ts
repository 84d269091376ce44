import type { FleetStatus, Reconciler } from '@herd/reconciler';
import { formatSpecError } from '@herd/api';
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
    reconciler.on('rejected', (commit, errors, lastGoodInForce) => {
      const kept = lastGoodInForce ? 'the last good state stays in force' : 'nothing is in force (no earlier good state is recorded)';
      this.line(`${commit ? `commit ${commit.slice(0, 12)}` : 'the working tree'} refused: ${errors.length} error${errors.length === 1 ? '' : 's'}; ${kept}:`);
      for (const e of errors) this.line(`  ${formatSpecError(e)}`);
    });
    reconciler.on('round', (status) => {
      if (status.converged && !this.marks.has('converged')) at('converged');
      this.setStatus(summarize(status, Date.now() - this.start));
    });
  }

  /**
   * Where the logger writes while progress is shown on a terminal: each log line as one
   * readable line among the progress lines (`warning: MESSAGE (cluster x, …)`), and a line
   * that says the same as the last one of its kind only once. JSON stays for pipes, log
   * collectors and `--output json`.
   */
  logDestination(): { write(line: string): void } {
    const shown = new Map<string, string>();
    return {
      write: (line) => {
        let record: Record<string, unknown>;
        try { record = JSON.parse(line) as Record<string, unknown>; } catch { this.line(line.trimEnd()); return; }
        const { level, msg, time: _time, pid: _pid, hostname: _host, name: _name, component: _component, event, ...fields } = record;
        if (typeof event === 'string' && SHOWN_AS_EVENTS.has(event)) return; // follow() shows it, with more detail
        // Control characters escaped: a value from a repository or a machine cannot move the cursor or forge a line.
        const text = escapeControls(`${LEVELS[Number(level)] ?? 'log'}: ${String(msg ?? '')}${describeFields(fields)}`);
        const key = `${String(msg)} ${String(fields.cluster ?? '')}`;
        if (shown.get(key) === text) return;
        shown.set(key, text);
        this.line(text);
      },
    };
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

/** Reconciler events follow() prints itself: the log lines that report them are not shown twice. */
const SHOWN_AS_EVENTS = new Set(['rejected']);

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'fatal' };

/** A log record's fields for a person: `(cluster shop, machine m-1, error: …)`; nested values as JSON. */
function describeFields(fields: Record<string, unknown>): string {
  const parts = Object.entries(fields).map(([key, value]) => {
    if (key === 'err' && value && typeof value === 'object') return `error: ${String((value as { message?: unknown }).message ?? '')}`;
    return `${key} ${typeof value === 'string' ? value : JSON.stringify(value)}`;
  });
  return parts.length ? ` (${parts.join(', ')})` : '';
}

function escapeControls(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
