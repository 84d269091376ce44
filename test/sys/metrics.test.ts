// @herd/sys's metrics registry: the text exposition format 0.0.4 as Prometheus parses it
// (escaping, cumulative histogram buckets, +Inf, _sum, _count) and the rules that keep names
// conventional. A real Prometheus scrapes it in test/coordinator/prometheus.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeLabelValue, formatValue, MetricsRegistry } from '@herd/sys';

test('label values escape backslash, double quote and newline; HELP escapes backslash and newline', () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  const registry = new MetricsRegistry();
  registry.counter('herd_things_total', 'Things, with a \\ and a\nnewline.', ['name']).inc({ name: 'say "hi"\\\n' });
  assert.equal(registry.render(), [
    '# HELP herd_things_total Things, with a \\\\ and a\\nnewline.',
    '# TYPE herd_things_total counter',
    'herd_things_total{name="say \\"hi\\"\\\\\\n"} 1',
    '',
  ].join('\n'));
});

test('a histogram writes cumulative buckets, +Inf, _sum and _count per label set', () => {
  const registry = new MetricsRegistry();
  const h = registry.histogram('herd_wait_seconds', 'Waits.', [1, 0.1, 10], ['kind']);
  for (const v of [0.05, 0.1, 0.5, 5, 50]) h.observe({ kind: 'a' }, v);
  h.observe({ kind: 'b' }, 2);
  assert.deepEqual(registry.render().split('\n'), [
    '# HELP herd_wait_seconds Waits.',
    '# TYPE herd_wait_seconds histogram',
    'herd_wait_seconds_bucket{kind="a",le="0.1"} 2',
    'herd_wait_seconds_bucket{kind="a",le="1"} 3',
    'herd_wait_seconds_bucket{kind="a",le="10"} 4',
    'herd_wait_seconds_bucket{kind="a",le="+Inf"} 5',
    'herd_wait_seconds_sum{kind="a"} 55.65',
    'herd_wait_seconds_count{kind="a"} 5',
    'herd_wait_seconds_bucket{kind="b",le="0.1"} 0',
    'herd_wait_seconds_bucket{kind="b",le="1"} 0',
    'herd_wait_seconds_bucket{kind="b",le="10"} 1',
    'herd_wait_seconds_bucket{kind="b",le="+Inf"} 1',
    'herd_wait_seconds_sum{kind="b"} 2',
    'herd_wait_seconds_count{kind="b"} 1',
    '',
  ]);
});

test('a gauge with collect is computed at every scrape and drops series that no longer exist', () => {
  const registry = new MetricsRegistry();
  let clusters: Record<string, number> = { a: 2, b: 1 };
  registry.gauge('herd_agents', 'Agents.', ['cluster'], (g) => { for (const [cluster, n] of Object.entries(clusters)) g.set({ cluster }, n); });
  const plain = registry.gauge('herd_level', 'A level.');
  plain.set(undefined, -Infinity);
  assert.match(registry.render(), /\nherd_agents\{cluster="a"\} 2\nherd_agents\{cluster="b"\} 1\n.*\nherd_level -Inf\n$/s);
  clusters = { b: 0 };
  const text = registry.render();
  assert.ok(!text.includes('cluster="a"'), text);
  assert.ok(text.includes('herd_agents{cluster="b"} 0\n'), text);
});

test('a metric without labels is there at 0 from the start; one with labels only once a series is used', () => {
  const registry = new MetricsRegistry();
  registry.histogram('herd_fanout_seconds', 'Fan-out.', [1]);
  registry.counter('herd_errors_total', 'Errors.', ['kind']);
  assert.deepEqual(registry.render().split('\n').filter((l) => !l.startsWith('#')), [
    'herd_fanout_seconds_bucket{le="1"} 0', 'herd_fanout_seconds_bucket{le="+Inf"} 0', 'herd_fanout_seconds_sum 0', 'herd_fanout_seconds_count 0', '',
  ]);
});

test('values: +Inf, -Inf and NaN as the format spells them', () => {
  assert.deepEqual([Infinity, -Infinity, NaN, 0.25, 1e21].map(formatValue), ['+Inf', '-Inf', 'NaN', '0.25', '1e+21']);
});

test('names, labels and counters that break the conventions are refused when declared or used', () => {
  const registry = new MetricsRegistry();
  assert.throws(() => registry.counter('herd_things', 'no _total'), /ends in _total/);
  assert.throws(() => registry.gauge('herd-bad', 'dash'), /not a Prometheus metric name/);
  assert.throws(() => registry.gauge('herd_ok', 'reserved label', ['__name']), /not allowed/);
  assert.throws(() => registry.histogram('herd_h_seconds', 'le', [1], ['le']), /bucket label/);
  assert.throws(() => registry.histogram('herd_empty_seconds', 'no buckets', []), /buckets/);
  const c = registry.counter('herd_c_total', 'c', ['kind']);
  assert.throws(() => c.inc({ other: 'x' }), /takes the labels \[kind\]/);
  assert.throws(() => c.inc({ kind: 'x' }, -1), /only goes up/);
  assert.throws(() => registry.counter('herd_c_total', 'again'), /registered twice/);
});
