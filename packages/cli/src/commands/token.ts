import { connectAdmin } from '@herd/coordinator';
import { formatHostPort } from '@herd/proto';
import { isValidName } from '@herd/pki';
import { parseDuration, UsageError } from '@herd/sys';
import { defineCommand, outputFormat, outputOption } from '../command.js';
import { adminOptions, hostPortFlag, stateFlag } from './coordinator-flags.js';

/** Where the printed command puts the token on the machine (install-agent.sh uses the same path). */
const TOKEN_FILE = '/etc/herd/agent.token';

export const tokenCommand = defineCommand({
  name: 'token',
  summary: 'Create a single-use bootstrap token for enrolling an agent',
  usage: 'herd token create --cluster NAME [--node NAME] [--ttl 15m] --coordinator HOST:PORT --state DIR [--output text|json]',
  options: {
    cluster: { type: 'string' },
    node: { type: 'string' },
    ttl: { type: 'string', default: '15m' },
    ...adminOptions,
    ...outputOption,
  },
  async run({ values, positionals, stdout }) {
    if (positionals.length !== 1 || positionals[0] !== 'create') throw new UsageError(`usage: ${this.usage}`);
    const format = outputFormat(values.output);
    const cluster = values.cluster as string | undefined;
    const node = values.node as string | undefined;
    if (!cluster || !isValidName(cluster)) throw new UsageError(`--cluster NAME is required (a lower-case DNS label)\nusage: ${this.usage}`);
    if (node !== undefined && !isValidName(node)) throw new UsageError(`--node must be a lower-case DNS label, got "${node}"`);
    const ttlMs = parseDuration(String(values.ttl));
    if (!ttlMs || ttlMs < 1000) throw new UsageError(`--ttl must be a duration of at least 1s, such as 15m`);
    const address = formatHostPort(hostPortFlag('coordinator', values.coordinator, this.usage));
    const admin = await connectAdmin({ address, store: stateFlag(values.state, this.usage) });
    try {
      const created = await admin.createToken({ cluster, nodeName: node ?? '', ttlSeconds: Math.ceil(ttlMs / 1000) });
      // The token goes into a root-only file (printf is a shell builtin: no process shows it),
      // never onto the agent's command line; the agent deletes the file once enrolled.
      const command = `(umask 077 && mkdir -p /etc/herd && printf '%s\\n' ${created.token} > ${TOKEN_FILE}) && `
        + `herd-agent --coordinator ${address} --token-file ${TOKEN_FILE} --ca-hash ${created.caHash} --state /var/lib/herd-agent`;
      if (format === 'json') {
        stdout.write(JSON.stringify({ token: created.token, expires: created.expires, caHash: created.caHash, cluster, node: node ?? null, command }, null, 2) + '\n');
      } else {
        stdout.write([
          `token:    ${created.token}`,
          `expires:  ${created.expires}`,
          `ca hash:  ${created.caHash}`,
          '',
          `Run on the machine${node ? ` ${node}` : ''} (cluster ${cluster}):`,
          `  ${command}`,
          '',
        ].join('\n'));
      }
      return 0;
    } finally {
      admin.close();
    }
  },
});
