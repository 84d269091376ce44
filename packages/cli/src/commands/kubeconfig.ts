import { SecretStore } from '@herd/coordinator';
import { nodeFileSystem, UsageError, UserError } from '@herd/sys';
import { parse } from 'yaml';
import { defineCommand, outputFormat } from '../command.js';
import { defaultStateDir } from '../fleet.js';

export const kubeconfigCommand = defineCommand({
  name: 'kubeconfig',
  summary: 'Print a cluster\'s admin kubeconfig (kept encrypted in the state directory since kubeadm init)',
  usage: 'herd kubeconfig CLUSTER [REPO] [--state DIR] [--output yaml|json]',
  options: {
    state: { type: 'string' },
    output: { type: 'string', short: 'o', default: 'yaml' },
  },
  async run({ values, positionals, stdout }) {
    const format = outputFormat(values.output, ['yaml', 'json']);
    const [cluster, repo = '.', ...extra] = positionals;
    if (!cluster || extra.length) throw new UsageError(`expected CLUSTER and at most one REPO\nusage: ${this.usage}`);
    const stateDir = (values.state as string | undefined) ?? defaultStateDir(repo);
    const secrets = await new SecretStore(stateDir, nodeFileSystem()).get(cluster);
    if (!secrets?.kubeconfig) {
      throw new UserError(`no credentials for cluster "${cluster}" in ${stateDir}: herd has not run kubeadm init for it (see herd status)`);
    }
    stdout.write(format === 'json' ? JSON.stringify(parse(secrets.kubeconfig), null, 2) + '\n' : secrets.kubeconfig);
    return 0;
  },
});
