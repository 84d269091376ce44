import { createServer, type Server } from 'node:http';
import type { RoundReport } from '@herd/converge';
import type { Logger } from '@herd/sys';

/**
 * What the agent counts, in Prometheus' text format, served on localhost only: rounds, step
 * durations, drift corrections, failures, and whether it holds a stream. Written by hand:
 * a dozen series do not need a client library in an artifact that must stay small.
 */
export class AgentMetrics {
  private readonly rounds = { converged: 0, failed: 0 };
  private readonly stepSeconds = new Map<string, { count: number; sum: number }>();
  private readonly drift = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private connected = 0;
  private observedGeneration = 0;
  private lastRound = 0;

  recordRound(report: RoundReport, observedGeneration: number, nowMs: number): void {
    this.rounds[report.converged ? 'converged' : 'failed']++;
    for (const [step, ms] of Object.entries(report.stepDurationsMs ?? {})) {
      const s = this.stepSeconds.get(step) ?? { count: 0, sum: 0 };
      s.count++;
      s.sum += ms / 1000;
      this.stepSeconds.set(step, s);
    }
    for (const d of report.drift) this.drift.set(d.step ?? '', (this.drift.get(d.step ?? '') ?? 0) + 1);
    for (const c of report.conditions) {
      if (c.status === 'False' && c.reason !== 'DependencyFailed') this.failures.set(c.type ?? '', (this.failures.get(c.type ?? '') ?? 0) + 1);
    }
    this.observedGeneration = observedGeneration;
    this.lastRound = nowMs / 1000;
  }

  setConnected(connected: boolean): void {
    this.connected = connected ? 1 : 0;
  }

  render(): string {
    const label = (name: string, value: string) => `${name}="${value.replace(/["\\\n]/g, '_')}"`;
    const lines = [
      '# HELP herd_agent_rounds_total Converge rounds, by whether every step converged.',
      '# TYPE herd_agent_rounds_total counter',
      ...Object.entries(this.rounds).map(([result, n]) => `herd_agent_rounds_total{${label('result', result)}} ${n}`),
      '# HELP herd_agent_step_duration_seconds Time spent in each converge step.',
      '# TYPE herd_agent_step_duration_seconds summary',
      ...[...this.stepSeconds].flatMap(([step, s]) => [
        `herd_agent_step_duration_seconds_sum{${label('step', step)}} ${s.sum}`,
        `herd_agent_step_duration_seconds_count{${label('step', step)}} ${s.count}`,
      ]),
      '# HELP herd_agent_drift_corrections_total Items put back because the machine had moved away from its spec.',
      '# TYPE herd_agent_drift_corrections_total counter',
      ...[...this.drift].map(([step, n]) => `herd_agent_drift_corrections_total{${label('step', step)}} ${n}`),
      '# HELP herd_agent_step_failures_total Rounds in which a step failed.',
      '# TYPE herd_agent_step_failures_total counter',
      ...[...this.failures].map(([step, n]) => `herd_agent_step_failures_total{${label('step', step)}} ${n}`),
      '# HELP herd_agent_connected 1 while the agent holds a stream to its coordinator.',
      '# TYPE herd_agent_connected gauge',
      `herd_agent_connected ${this.connected}`,
      '# HELP herd_agent_observed_generation Generation of the assignment the last complete round converged.',
      '# TYPE herd_agent_observed_generation gauge',
      `herd_agent_observed_generation ${this.observedGeneration}`,
      '# HELP herd_agent_last_round_timestamp_seconds When the last round ended.',
      '# TYPE herd_agent_last_round_timestamp_seconds gauge',
      `herd_agent_last_round_timestamp_seconds ${this.lastRound}`,
    ];
    return lines.join('\n') + '\n';
  }
}

/**
 * Serves GET /metrics. A port already taken is logged and skipped: metrics must never be
 * the reason an agent does not run.
 */
export async function serveMetrics(metrics: AgentMetrics, host: string, port: number, logger: Logger): Promise<{ port: number; close(): Promise<void> } | undefined> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metrics.render());
  });
  try {
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, host, resolve); });
  } catch (error) {
    logger.warn({ err: error, host, port }, 'cannot serve metrics; going on without them');
    return undefined;
  }
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
