import { existsSync, statSync } from 'node:fs';
import { isRemoteUrl } from '@herd/source';
import { createLogger, parseDuration, UsageError } from '@herd/sys';
import { defineCommand } from '../command.js';
import { startFleet, type Fleet } from '../fleet.js';
import { DEFAULT_COORDINATOR_METRICS, DEFAULT_STATUS_PAGE, hostPortFlag, metricsFlag, STATE_REF_USAGE, stateRefFlags, stateRefOptions, statusPageFlag } from './coordinator-flags.js';

/**
 * The coordinator as it runs in production (a container, or self-hosted): what `herd up`
 * does, without the progress display and without ever exiting on its own.
 */
export const coordinatorCommand = defineCommand({
  name: 'coordinator',
  summary: 'Run the coordinator as in production: the whole loop of `herd up` (machines, agents, Kubernetes, each new commit) '
    + 'and its gRPC services, JSON logs, until a signal',
  usage: 'herd coordinator --repo URL|PATH [--ref REF] --listen HOST:PORT --state DIR [--advertise NAME]... [--interval 10s] [--heartbeat-timeout 30s]'
    + ` [--metrics 127.0.0.1:9464|off] [--status-page 127.0.0.1:9465|off] ${STATE_REF_USAGE}`,
  options: {
    repo: { type: 'string' },
    ref: { type: 'string' },
    listen: { type: 'string' },
    state: { type: 'string' },
    advertise: { type: 'string', multiple: true },
    interval: { type: 'string', default: '10s' },
    'heartbeat-timeout': { type: 'string', default: '30s' },
    metrics: { type: 'string', default: DEFAULT_COORDINATOR_METRICS },
    'status-page': { type: 'string', default: DEFAULT_STATUS_PAGE },
    ...stateRefOptions,
  },
  async run({ values }) {
    const repo = values.repo as string | undefined;
    if (!repo) throw new UsageError(`--repo is required\nusage: ${this.usage}`);
    if (!isRemoteUrl(repo) && !(existsSync(repo) && statSync(repo).isDirectory())) {
      throw new UsageError(`--repo ${repo}: not a URL and no such directory`);
    }
    const listen = hostPortFlag('listen', values.listen, this.usage, true);
    const metrics = metricsFlag(values.metrics, this.usage);
    const statusPage = statusPageFlag(values['status-page'], this.usage);
    const stateRef = stateRefFlags(values, this.usage);
    const stateDir = values.state as string | undefined;
    if (!stateDir) throw new UsageError(`--state DIR is required\nusage: ${this.usage}`);
    const heartbeatTimeoutMs = parseDuration(String(values['heartbeat-timeout']));
    if (!heartbeatTimeoutMs) throw new UsageError('--heartbeat-timeout must be a duration such as 30s');
    const intervalMs = parseDuration(String(values.interval));
    if (!intervalMs) throw new UsageError('--interval must be a duration such as 10s');
    const logger = createLogger({ name: 'coordinator' });
    // Handled from the start: as a container's PID 1, a signal with no handler is ignored,
    // and `podman stop` would wait out its timeout. Before the fleet runs there is nothing to
    // stop in order (a clone into a temporary directory at most): it exits at once.
    const stop = new AbortController();
    let fleet: Fleet | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (!fleet) { logger.info({ signal }, 'stopped while starting'); process.exit(0); }
      if (stop.signal.aborted) process.exit(1);
      logger.info({ signal }, 'stopping');
      stop.abort();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    fleet = await startFleet({
      repo, stateDir, listenHost: listen.host, port: listen.port, advertise: (values.advertise as string[] | undefined) ?? [],
      heartbeatTimeoutMs, logger, ...(metrics ? { metrics } : {}), ...(statusPage ? { statusPage } : {}), ...(values.ref ? { ref: String(values.ref) } : {}),
      ...(stateRef ? { stateRef } : {}),
    });
    try {
      await fleet.run(stop.signal, intervalMs);
    } finally {
      await fleet.close();
    }
    return 0;
  },
});
