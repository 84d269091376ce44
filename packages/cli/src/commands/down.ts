import type { ProviderSpec } from '@herd/api';
import { LABEL } from '@herd/planner';
import { SecretStore } from '@herd/coordinator';
import { createLogger, nodeFileSystem, UsageError, UserError } from '@herd/sys';
import { defineCommand, outputFormat, outputOption } from '../command.js';
import { defaultStateDir, ProviderPool, readStatusFile, repositoryReader, runningCoordinator } from '../fleet.js';

export const downCommand = defineCommand({
  name: 'down',
  summary: 'Delete every machine of the repository\'s clusters (or of one), leaving no machine, network or process behind',
  usage: 'herd down [REPO] [--cluster NAME] [--state DIR] [--output text|json]',
  options: {
    cluster: { type: 'string' },
    state: { type: 'string' },
    ...outputOption,
  },
  async run({ values, positionals, stdout, stderr }) {
    const format = outputFormat(values.output);
    if (positionals.length > 1) throw new UsageError(`expected at most one REPO\nusage: ${this.usage}`);
    const repo = positionals[0] ?? '.';
    const stateDir = (values.state as string | undefined) ?? defaultStateDir(repo);
    const running = await runningCoordinator(stateDir);
    if (running) throw new UserError(`a coordinator (pid ${running.pid}) runs for ${repo} and would recreate the machines; stop it first`);
    const logger = createLogger({ name: 'herd', level: process.env.HERD_LOG_LEVEL ?? 'warn' });

    // Clusters of the repository as it is now, and those the last status knew (a cluster
    // whose file was deleted still has machines to remove).
    const reader = repositoryReader(repo, undefined, logger);
    const snapshot = await reader.read();
    const clusters = new Map<string, ProviderSpec>();
    for (const { cluster } of snapshot.clusters) clusters.set(cluster.metadata.name, cluster.spec.provider);
    for (const c of (await readStatusFile(stateDir))?.clusters ?? []) if (!clusters.has(c.name) && c.provider === 'local') clusters.set(c.name, { kind: 'local' });
    const wanted = values.cluster ? [String(values.cluster)] : [...clusters.keys()];
    if (values.cluster && !clusters.has(String(values.cluster))) throw new UserError(`cluster "${values.cluster}" is not in ${repo} nor in its last status`);

    const pool = new ProviderPool(stateDir, reader, logger, () => snapshot.commit);
    const deleted: { cluster: string; machine: string }[] = [];
    try {
      for (const name of wanted) {
        const provider = await pool.get(name, clusters.get(name)!);
        const machines = await provider.list({ [LABEL.cluster]: name });
        await Promise.all(machines.map(async (m) => {
          await provider.delete(m.name);
          deleted.push({ cluster: name, machine: m.name });
          if (format === 'text') stderr.write(`${name}: machine ${m.name} deleted\n`);
        }));
        // The cluster is gone with its machines; its admin credentials go too.
        await new SecretStore(stateDir, nodeFileSystem()).delete(name);
      }
    } finally {
      await pool.close();
    }
    if (format === 'json') stdout.write(JSON.stringify({ deleted }, null, 2) + '\n');
    else stdout.write(`${deleted.length} machine${deleted.length === 1 ? '' : 's'} deleted (${wanted.join(', ') || 'no clusters'})\n`);
    return 0;
  },
});
