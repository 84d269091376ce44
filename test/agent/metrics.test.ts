// The agent's /metrics: what a round adds, in Prometheus' text format, served on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentMetrics } from '@herd/agent';
import { serveMetrics, silentLogger } from '@herd/sys';

const report = (converged: boolean) => ({
  conditions: [
    { type: 'Sysctl', status: converged ? 'True' : 'False', reason: converged ? 'DriftCorrected' : 'CommandFailed', message: '' },
    { type: 'Units', status: converged ? 'True' : 'False', reason: converged ? 'Converged' : 'DependencyFailed', message: '' },
  ],
  drift: converged ? [{ step: 'Sysctl', item: 'net.core.somaxconn', found: '128', set: '1024', time: '' }] : [],
  converged, changed: true, rebootRequired: false, durationMs: 12,
  stepDurationsMs: { Sysctl: 4, Units: 8 },
});

test('rounds, step durations, drift and failures are counted; a skipped step is not a failure', async () => {
  const metrics = new AgentMetrics();
  metrics.recordRound(report(true), 3, 1_700_000_000_000);
  metrics.recordRound(report(false), 3, 1_700_000_030_000);
  metrics.setConnected(true);
  const served = await serveMetrics(metrics.registry, '127.0.0.1', 0, silentLogger());
  assert.ok(served);
  try {
    const response = await fetch(`http://127.0.0.1:${served.port}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const lines = (await response.text()).split('\n');
    for (const expected of [
      'herd_agent_rounds_total{result="converged"} 1',
      'herd_agent_rounds_total{result="failed"} 1',
      'herd_agent_step_duration_seconds_sum{step="Units"} 0.016',
      'herd_agent_step_duration_seconds_bucket{step="Units",le="0.05"} 2',
      'herd_agent_round_duration_seconds_count 2',
      'herd_agent_round_duration_seconds_sum 0.024',
      'herd_agent_step_duration_seconds_count{step="Units"} 2',
      'herd_agent_drift_corrections_total{step="Sysctl"} 1',
      'herd_agent_step_failures_total{step="Sysctl"} 1',
      'herd_agent_connected 1',
      'herd_agent_observed_generation 3',
      'herd_agent_last_round_timestamp_seconds 1700000030',
    ]) assert.ok(lines.includes(expected), `missing: ${expected}`);
    assert.ok(!lines.some((l) => l.startsWith('herd_agent_step_failures_total{step="Units"}')), 'DependencyFailed is a skip, not a failure');
    assert.equal((await fetch(`http://127.0.0.1:${served.port}/other`)).status, 404);
  } finally {
    await served.close();
  }
});

test('a metrics port already taken is skipped, not fatal', async () => {
  const first = await serveMetrics(new AgentMetrics().registry, '127.0.0.1', 0, silentLogger());
  try {
    assert.equal(await serveMetrics(new AgentMetrics().registry, '127.0.0.1', first!.port, silentLogger()), undefined);
  } finally {
    await first!.close();
  }
});
