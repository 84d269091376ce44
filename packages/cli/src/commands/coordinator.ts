import { existsSync, statSync } from 'node:fs';
import { startCoordinator } from '@herd/coordinator';
import { isRemoteUrl } from '@herd/source';
import { createLogger, parseDuration, UsageError } from '@herd/sys';
import { defineCommand } from '../command.js';
import { hostPortFlag, stateFlag } from './coordinator-flags.js';

export const coordinatorCommand = defineCommand({
  name: 'coordinator',
  summary: 'Run the coordinator: enroll agents, hold their sessions, serve the admin API',
  usage: 'herd coordinator --repo URL|PATH --listen HOST:PORT --state DIR [--advertise NAME]... [--heartbeat-timeout 30s]',
  options: {
    repo: { type: 'string' },
    listen: { type: 'string' },
    state: { type: 'string' },
    advertise: { type: 'string', multiple: true },
    'heartbeat-timeout': { type: 'string', default: '30s' },
  },
  async run({ values }) {
    const repo = values.repo as string | undefined;
    if (!repo) throw new UsageError(`--repo is required\nusage: ${this.usage}`);
    if (!isRemoteUrl(repo) && !(existsSync(repo) && statSync(repo).isDirectory())) {
      throw new UsageError(`--repo ${repo}: not a URL and no such directory`);
    }
    const listen = hostPortFlag('listen', values.listen, this.usage, true);
    const store = stateFlag(values.state, this.usage);
    const heartbeatTimeoutMs = parseDuration(String(values['heartbeat-timeout']));
    if (!heartbeatTimeoutMs) throw new UsageError(`--heartbeat-timeout must be a duration such as 30s`);
    const logger = createLogger({ name: 'coordinator' });
    const coordinator = await startCoordinator({
      store, ...listen, advertise: (values.advertise as string[] | undefined) ?? [], logger, heartbeatTimeoutMs,
    });
    logger.info({ repo }, 'repository noted; this version serves sessions and the admin API only, assignments built from the repository come in a later version');
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => { logger.info({ signal }, 'stopping'); resolve(); };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    await coordinator.close();
    return 0;
  },
});
