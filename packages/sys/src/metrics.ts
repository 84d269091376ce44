import { createServer, type Server } from 'node:http';
import type { Logger } from './log.js';

/**
 * Prometheus metrics, by hand: counters, gauges and histograms in a registry, rendered in the
 * text exposition format 0.0.4. The agent and the coordinator both count with it; a client
 * library would add a dependency (and memory) to an agent that must stay small, for a format
 * of a few lines.
 */
export type Labels = Readonly<Record<string, string>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Label values escape backslash, double quote and newline (and nothing else). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and newline. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value as the format writes it: +Inf, -Inf, NaN or a Go-parsable float. */
export function formatValue(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (Number.isNaN(value)) return 'NaN';
  return String(value);
}

function labelText(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const pairs = names.map((n, i) => `${n}="${escapeLabelValue(values[i]!)}"`);
  if (extra) pairs.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return pairs.length ? `{${pairs.join(',')}}` : '';
}

interface Metric {
  readonly name: string;
  readonly labelNames: readonly string[];
  /** Makes the one series of a metric without labels, so it is there at 0 before anything happened. */
  touch(): void;
  render(): string[];
}

/** The series of one metric, keyed by their label values in the declared label order. */
abstract class Family<T> implements Metric {
  protected readonly series = new Map<string, { values: string[]; state: T }>();

  constructor(readonly name: string, private readonly help: string, private readonly type: string, readonly labelNames: readonly string[]) {
    if (!METRIC_NAME.test(name)) throw new Error(`metric name "${name}" is not a Prometheus metric name`);
    for (const l of labelNames) if (!LABEL_NAME.test(l) || l.startsWith('__')) throw new Error(`${name}: label name "${l}" is not allowed`);
  }

  protected abstract initial(): T;

  protected at(labels: Labels = {}): T {
    const keys = Object.keys(labels);
    if (keys.length !== this.labelNames.length || !this.labelNames.every((n) => typeof labels[n] === 'string')) {
      throw new Error(`${this.name} takes the labels [${this.labelNames.join(', ')}], got [${keys.join(', ')}]`);
    }
    const values = this.labelNames.map((n) => labels[n]!);
    const key = JSON.stringify(values);
    let entry = this.series.get(key);
    if (!entry) {
      entry = { values, state: this.initial() };
      this.series.set(key, entry);
    }
    return entry.state;
  }

  touch(): void {
    this.at({});
  }

  protected abstract samples(values: readonly string[], state: T): string[];

  render(): string[] {
    return [
      `# HELP ${this.name} ${escapeHelp(this.help)}`,
      `# TYPE ${this.name} ${this.type}`,
      ...[...this.series.values()].flatMap(({ values, state }) => this.samples(values, state)),
    ];
  }
}

/** Only goes up (a process restart starts it at 0 again, which Prometheus' rate() expects). */
export class Counter extends Family<{ value: number }> {
  protected initial() { return { value: 0 }; }
  inc(labels?: Labels, by = 1): void {
    if (!(by >= 0)) throw new Error(`${this.name}: a counter only goes up, got ${by}`);
    this.at(labels).value += by;
  }
  protected samples(values: readonly string[], s: { value: number }) {
    return [`${this.name}${labelText(this.labelNames, values)} ${formatValue(s.value)}`];
  }
}

/** A value that goes up and down; `collect` (see MetricsRegistry.gauge) sets it at scrape time. */
export class Gauge extends Family<{ value: number }> {
  protected initial() { return { value: 0 }; }
  set(labels: Labels | undefined, value: number): void {
    this.at(labels).value = value;
  }
  /** Forgets every series: a gauge computed from the state now drops what no longer exists. */
  reset(): void {
    this.series.clear();
  }
  protected samples(values: readonly string[], s: { value: number }) {
    return [`${this.name}${labelText(this.labelNames, values)} ${formatValue(s.value)}`];
  }
}

/** Observations counted into upper-bounded buckets, written cumulative with +Inf, _sum and _count. */
export class Histogram extends Family<{ counts: number[]; sum: number; count: number }> {
  readonly buckets: readonly number[];

  constructor(name: string, help: string, buckets: readonly number[], labelNames: readonly string[]) {
    super(name, help, 'histogram', labelNames);
    if (labelNames.includes('le')) throw new Error(`${name}: "le" is the bucket label of a histogram`);
    const sorted = [...buckets].filter((b) => b !== Infinity).sort((a, b) => a - b);
    if (!sorted.length || sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) {
      throw new Error(`${name}: buckets must be distinct finite numbers`);
    }
    this.buckets = sorted;
  }

  protected initial() { return { counts: this.buckets.map(() => 0), sum: 0, count: 0 }; }

  observe(labels: Labels | undefined, value: number): void {
    const s = this.at(labels);
    // Counted in the first bucket that holds it; render() makes them cumulative.
    const index = this.buckets.findIndex((b) => value <= b);
    if (index >= 0) s.counts[index]!++;
    s.sum += value;
    s.count++;
  }

  protected samples(values: readonly string[], s: { counts: number[]; sum: number; count: number }) {
    let cumulative = 0;
    const lines = this.buckets.map((b, i) => {
      cumulative += s.counts[i]!;
      return `${this.name}_bucket${labelText(this.labelNames, values, ['le', formatValue(b)])} ${cumulative}`;
    });
    lines.push(`${this.name}_bucket${labelText(this.labelNames, values, ['le', '+Inf'])} ${s.count}`);
    lines.push(`${this.name}_sum${labelText(this.labelNames, values)} ${formatValue(s.sum)}`);
    lines.push(`${this.name}_count${labelText(this.labelNames, values)} ${s.count}`);
    return lines;
  }
}

/** Buckets for durations in seconds from a few milliseconds to a minute (the default of most clients, plus 30 s and 60 s). */
export const DEFAULT_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

/** Every metric of one process, rendered in registration order. */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();
  private readonly collectors: (() => void)[] = [];

  private add<M extends Metric>(metric: M): M {
    if (this.metrics.has(metric.name)) throw new Error(`metric ${metric.name} is registered twice`);
    this.metrics.set(metric.name, metric);
    if (!metric.labelNames.length) metric.touch();
    return metric;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    if (!name.endsWith('_total')) throw new Error(`counter ${name}: a counter's name ends in _total`);
    return this.add(new Counter(name, help, 'counter', labelNames));
  }

  /** With `collect`, the gauge is computed from the state of things at every scrape (after a reset). */
  gauge(name: string, help: string, labelNames: readonly string[] = [], collect?: (gauge: Gauge) => void): Gauge {
    const gauge = this.add(new Gauge(name, help, 'gauge', labelNames));
    if (collect) this.collectors.push(() => { gauge.reset(); collect(gauge); });
    return gauge;
  }

  histogram(name: string, help: string, buckets: readonly number[] = DEFAULT_SECONDS_BUCKETS, labelNames: readonly string[] = []): Histogram {
    return this.add(new Histogram(name, help, buckets, labelNames));
  }

  /** The text exposition format, version 0.0.4. */
  render(): string {
    for (const collect of this.collectors) collect();
    return [...this.metrics.values()].flatMap((m) => m.render()).join('\n') + '\n';
  }
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsServer {
  /** The port bound (the one asked for, or the one picked for port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Why a process is not ready yet, as one line for GET /readyz, or undefined once it is (the
 * coordinator: repository read, agent listener up).
 */
export type ReadinessCheck = () => string | undefined;

/**
 * Serves GET /metrics, and with `ready` also GET /livez (200 while the process answers) and
 * GET /readyz (200, or 503 with the reason): a container's probes use the port Prometheus
 * scrapes, not a second server. A port already taken is logged and skipped: metrics must
 * never be the reason an agent or a coordinator does not run.
 */
export async function serveMetrics(registry: MetricsRegistry, host: string, port: number, logger: Logger, ready?: ReadinessCheck): Promise<MetricsServer | undefined> {
  const server: Server = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (req.method === 'GET' && ready && path === '/livez') { res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n'); return; }
    if (req.method === 'GET' && ready && path === '/readyz') {
      const reason = ready();
      res.writeHead(reason === undefined ? 200 : 503, { 'content-type': 'text/plain' }).end(`${reason ?? 'ok'}\n`);
      return;
    }
    if (req.method !== 'GET' || path !== '/metrics') { res.writeHead(404).end(); return; }
    let body: string;
    try {
      body = registry.render();
    } catch (error) {
      logger.error({ err: error }, 'cannot render metrics');
      res.writeHead(500).end();
      return;
    }
    res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(body);
  });
  try {
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, host, resolve); });
  } catch (error) {
    logger.warn({ err: error, host, port }, 'cannot serve metrics; going on without them');
    return undefined;
  }
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  logger.info({ host, port: bound }, 'serving metrics');
  return {
    port: bound,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
