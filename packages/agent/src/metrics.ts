import type { RoundReport } from '@herd/converge';
import { MetricsRegistry } from '@herd/sys';

/** Converge rounds take from well under a second (nothing to do) to minutes (packages). */
const ROUND_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * What the agent counts, served on localhost only (docs/metrics.md): rounds and their
 * durations, step durations, drift corrections, failures, and whether it holds a stream.
 */
export class AgentMetrics {
  readonly registry = new MetricsRegistry();
  private readonly rounds = this.registry.counter('herd_agent_rounds_total', 'Converge rounds, by whether every step converged.', ['result']);
  private readonly roundSeconds = this.registry.histogram('herd_agent_round_duration_seconds', 'Time a converge round took, every step included.',
    ROUND_BUCKETS);
  private readonly stepSeconds = this.registry.histogram('herd_agent_step_duration_seconds', 'Time spent in each converge step (observe and apply).',
    ROUND_BUCKETS, ['step']);
  private readonly drift = this.registry.counter('herd_agent_drift_corrections_total',
    'Items put back because the machine had moved away from its spec.', ['step']);
  private readonly failures = this.registry.counter('herd_agent_step_failures_total', 'Rounds in which a step failed.', ['step']);
  private readonly connected = this.registry.gauge('herd_agent_connected', '1 while the agent holds a stream to its coordinator.');
  private readonly observedGeneration = this.registry.gauge('herd_agent_observed_generation',
    'Generation of the assignment the last complete round converged.');
  private readonly lastRound = this.registry.gauge('herd_agent_last_round_timestamp_seconds', 'When the last round ended (Unix time).');

  constructor() {
    // Present from the start, so a rate() or an absent() sees a series before the first round.
    for (const result of ['converged', 'failed']) this.rounds.inc({ result }, 0);
  }

  recordRound(report: RoundReport, observedGeneration: number, nowMs: number): void {
    this.rounds.inc({ result: report.converged ? 'converged' : 'failed' });
    this.roundSeconds.observe(undefined, report.durationMs / 1000);
    for (const [step, ms] of Object.entries(report.stepDurationsMs ?? {})) this.stepSeconds.observe({ step }, ms / 1000);
    for (const d of report.drift) this.drift.inc({ step: d.step ?? '' });
    for (const c of report.conditions) {
      if (c.status === 'False' && c.reason !== 'DependencyFailed') this.failures.inc({ step: c.type ?? '' });
    }
    this.observedGeneration.set(undefined, observedGeneration);
    this.lastRound.set(undefined, nowMs / 1000);
  }

  setConnected(connected: boolean): void {
    this.connected.set(undefined, connected ? 1 : 0);
  }

  render(): string {
    return this.registry.render();
  }
}
