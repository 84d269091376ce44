import { resolve } from 'node:path';
import { initRepository } from '@herd/source';
import { UsageError } from '@herd/sys';
import { defineCommand } from '../command.js';

const PROFILE = `# Shared settings. Clusters name a profile and override only what differs.
# Every field and its default: \`herd schema\`; a cluster with everything applied: \`herd validate --resolved\`.
apiVersion: herd.dev/v1
kind: Profile
metadata:
  name: standard
spec:
  kubernetes:
    version: 1.34.2
  os:
    kernelModules: [overlay, br_netfilter]
    sysctls:
      net.ipv4.ip_forward: 1
      net.bridge.bridge-nf-call-iptables: 1
  upgrade:
    maxUnavailable: 1
    drainTimeout: 10m
`;

const CLUSTER = `apiVersion: herd.dev/v1
kind: Cluster
metadata:
  name: dev
spec:
  profile: standard
  provider: { kind: local }
  pools:
    - name: workers
      replicas: 2
`;

const README = `# Clusters managed by herd

- \`clusters/NAME.yaml\`: one file per cluster (the file name is the cluster name).
- \`profiles/NAME.yaml\`: settings clusters share; a cluster sets \`spec.profile\` and overrides what differs.

Check a change before committing it: \`herd validate .\`
See a cluster with its profile and every default applied: \`herd validate . --resolved\`
`;

export const initCommand = defineCommand({
  name: 'init',
  summary: 'Create a new herd repository (Git) with an example cluster and profile',
  usage: 'herd init DIR',
  options: {},
  async run({ positionals, stdout }) {
    if (positionals.length !== 1) throw new UsageError(`expected one DIR\nusage: ${this.usage}`);
    const dir = positionals[0]!;
    const commit = await initRepository(resolve(dir), [
      { path: 'README.md', text: README },
      { path: 'profiles/standard.yaml', text: PROFILE },
      { path: 'clusters/dev.yaml', text: CLUSTER },
    ], 'herd init: example cluster "dev" and profile "standard"');
    stdout.write(`Initialized a herd repository in ${dir} (commit ${commit.slice(0, 12)}) with cluster "dev" and profile "standard".\nNext: herd validate ${dir}\n`);
    return 0;
  },
});
