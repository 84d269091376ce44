import { parseDuration, UsageError, createLogger, formatDuration } from '@herd/sys';
import type { FleetStatus } from '@herd/reconciler';
import { defineCommand, outputFormat, outputOption } from '../command.js';
import { defaultStateDir, startFleet } from '../fleet.js';
import { DEFAULT_COORDINATOR_METRICS, DEFAULT_STATUS_PAGE, hostPortFlag, metricsFlag, STATE_REF_USAGE, stateRefFlags, stateRefOptions, statusPageFlag } from './coordinator-flags.js';
import { Progress } from '../progress.js';

export const upCommand = defineCommand({
  name: 'up',
  summary: 'Run the coordinator in the foreground: make every cluster of REPO match it, show progress, keep reconciling',
  usage: 'herd up [REPO] [--ref REF] [--cluster NAME] [--timeout DURATION] [--exit-when-converged] [--state DIR] [--listen HOST:PORT]'
    + ` [--metrics 127.0.0.1:9464|off] [--status-page 127.0.0.1:9465|off] [--interval 5s] ${STATE_REF_USAGE} [--output text|json]`,
  options: {
    ref: { type: 'string' },
    cluster: { type: 'string' },
    timeout: { type: 'string' },
    'exit-when-converged': { type: 'boolean', default: false },
    state: { type: 'string' },
    listen: { type: 'string', default: '0.0.0.0:0' },
    metrics: { type: 'string', default: DEFAULT_COORDINATOR_METRICS },
    'status-page': { type: 'string', default: DEFAULT_STATUS_PAGE },
    interval: { type: 'string', default: '5s' },
    ...stateRefOptions,
    ...outputOption,
  },
  async run({ values, positionals, stdout, stderr }) {
    const format = outputFormat(values.output);
    if (positionals.length > 1) throw new UsageError(`expected at most one REPO\nusage: ${this.usage}`);
    const repo = positionals[0] ?? '.';
    const intervalMs = parseDuration(String(values.interval));
    if (!intervalMs) throw new UsageError('--interval must be a duration such as 5s');
    const timeoutMs = values.timeout === undefined ? undefined : parseDuration(String(values.timeout));
    if (values.timeout !== undefined && !timeoutMs) throw new UsageError('--timeout must be a duration such as 10m');
    const listen = hostPortFlag('listen', values.listen, this.usage, true);
    const metrics = metricsFlag(values.metrics, this.usage);
    const statusPage = statusPageFlag(values['status-page'], this.usage);
    const stateRef = stateRefFlags(values, this.usage);
    const stateDir = (values.state as string | undefined) ?? defaultStateDir(repo);
    const exitWhenConverged = Boolean(values['exit-when-converged']);

    const progress = new Progress(stderr, format === 'text');
    // On a terminal, log lines are shown as readable progress lines; JSON elsewhere.
    const logger = createLogger({
      name: 'herd', level: process.env.HERD_LOG_LEVEL ?? 'warn', ...(format === 'text' && stderr.isTTY ? { destination: progress.logDestination() } : {}),
    });
    progress.line(`state ${stateDir}`);
    const started = Date.now();
    const fleet = await startFleet({
      repo, stateDir, listenHost: listen.host, ...(listen.port ? { port: listen.port } : {}), ...(metrics ? { metrics } : {}), ...(statusPage ? { statusPage } : {}), logger,
      ...(values.ref ? { ref: String(values.ref) } : {}), ...(values.cluster ? { cluster: String(values.cluster) } : {}), ...(stateRef ? { stateRef } : {}),
    });
    progress.line(`coordinator listening on port ${fleet.coordinator.port}`);
    if (fleet.statusPage) progress.line(`status page ${fleet.statusPage.url} (open it with #token= and the token in ${fleet.statusPage.tokenFile})`);
    progress.follow(fleet.reconciler, started);

    const stop = new AbortController();
    let outcome: 'converged' | 'timeout' | 'signal' | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stop.signal.aborted) process.exit(1); // a second signal: do not wait
      progress.line(`${signal}: stopping (the machines keep running; \`herd down\` removes them)`);
      outcome ??= 'signal';
      stop.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const timer = timeoutMs ? setTimeout(() => { outcome ??= 'timeout'; stop.abort(); }, timeoutMs) : undefined;
    let last: FleetStatus | undefined;
    fleet.reconciler.on('round', (status) => {
      last = status;
      if (status.converged && exitWhenConverged) { outcome ??= 'converged'; stop.abort(); }
    });
    try {
      await fleet.run(stop.signal, intervalMs);
    } finally {
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await fleet.close();
    }
    progress.done();
    if (format === 'json') stdout.write(JSON.stringify({ outcome, convergedAfterMs: progress.convergedAfterMs() ?? null, elapsedMs: Date.now() - started, phases: progress.phases(), status: last ?? null }, null, 2) + '\n');
    if (outcome === 'converged') {
      if (format === 'text') stdout.write(`converged in ${formatDuration(progress.convergedAfterMs()!)} (${progress.summary()})\n`);
      return 0;
    }
    if (outcome === 'timeout') {
      const why = last ? last.clusters.filter((c) => !c.converged).map((c) => `${c.name}: ${c.reason}`) : ['no round finished'];
      if (last && !last.clusters.length) why.push('no cluster in force');
      if (last?.rejected) {
        const n = last.rejected.errors.length;
        const what = last.rejected.commit ? 'the newest commit' : 'the working tree';
        why.push(`${what} does not validate (${n} error${n === 1 ? '' : 's'}; herd validate shows them)`);
      }
      stderr.write(`herd: not converged after ${formatDuration(timeoutMs!)}:\n${why.map((w) => `  ${w}\n`).join('')}`);
      return 1;
    }
    return outcome === 'signal' ? 130 : 0;
  },
});
