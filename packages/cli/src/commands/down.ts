import { formatSpecError, type ProviderSpec } from '@herd/api';
import { LABEL } from '@herd/provider';
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

    // The clusters to remove: the repository's as it is now, or, when it does not validate,
    // those of the last good state the state directory records (what the coordinator acted
    // on); then those the last status knew (a cluster whose file was deleted still has
    // machines to remove). Never "done" after guessing from a broken repository.
    const reader = repositoryReader(repo, undefined, logger);
    const snapshot = await reader.read();
    let inForce = snapshot;
    if (snapshot.errors.length) {
      const located = snapshot.errors.map((e) => `  ${formatSpecError(e)}`).join('\n');
      const good = await reader.lastGood(stateDir);
      if (!good) {
        throw new UserError(`${repo} does not validate and ${stateDir} records no good state of it; nothing deleted. `
          + `Fix these errors, or give the --state of the run that made the machines:\n${located}`);
      }
      inForce = good;
      const n = snapshot.errors.length;
      const state = good.commit ? `commit ${good.commit.slice(0, 12)}` : 'the working tree as last accepted';
      stderr.write(`herd: ${repo} does not validate (${n} error${n === 1 ? '' : 's'}); removing the clusters of the last good state (${state}):\n${located}\n`);
    }
    const clusters = new Map<string, ProviderSpec>();
    for (const { cluster } of [...inForce.clusters, ...snapshot.clusters]) {
      if (!clusters.has(cluster.metadata.name)) clusters.set(cluster.metadata.name, cluster.spec.provider);
    }
    for (const c of (await readStatusFile(stateDir))?.clusters ?? []) if (!clusters.has(c.name) && c.provider === 'local') clusters.set(c.name, { kind: 'local' });
    const wanted = values.cluster ? [String(values.cluster)] : [...clusters.keys()];
    if (values.cluster && !clusters.has(String(values.cluster))) throw new UserError(`cluster "${values.cluster}" is not in ${repo} nor in its last status`);
    if (!wanted.length) throw new UserError(`nothing to delete: ${repo} declares no cluster and ${stateDir} records none`);

    const pool = new ProviderPool(stateDir, reader, logger, () => inForce.commit);
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
    if (format === 'json') {
      const refused = snapshot.errors.length ? snapshot.errors : null;
      stdout.write(JSON.stringify({ deleted, clusters: wanted, refused, fromLastGoodState: inForce !== snapshot }, null, 2) + '\n');
    } else {
      stdout.write(`${deleted.length} machine${deleted.length === 1 ? '' : 's'} deleted (${wanted.join(', ')})\n`);
    }
    return 0;
  },
});
