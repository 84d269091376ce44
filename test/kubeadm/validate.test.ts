/**
 * The real proof of the generated kubeadm configurations: `kubeadm config validate` of the
 * kubeadm versions herd supports, built by scripts/build-kubernetes.sh (found in its cache;
 * built there first when missing — tens of minutes, docs/local.md). Runs on the host,
 * no machines: validate only reads the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PLATFORM, initConfiguration, joinConfiguration, newCertificateKey, upgradeConfiguration, type Platform } from '@herd/kubeadm';
import { createExecutor, ExecError } from '@herd/sys';
import { buildArtifacts, kubernetesCacheDir } from '../kubernetes/node.js';
import { tempDir } from '../support.js';
import { CA_HASH, CLUSTER, CP1, CP2, TOKEN, WORKER, LOCAL_PLATFORM } from './fixtures.js';

const VERSIONS = ['v1.34.4', 'v1.35.4'];
const exec = createExecutor();

async function kubeadmOf(version: string): Promise<string> {
  const bin = join(kubernetesCacheDir(), version, 'bin', 'kubeadm');
  if (!existsSync(bin)) await buildArtifacts(version, exec);
  assert.equal((await exec.run(bin, ['version', '-o', 'short'])).stdout.trim(), version);
  return bin;
}

function configurations(version: string, platform: Platform): Record<string, string> {
  const endpoint = '10.0.0.100:8443';
  return {
    init: initConfiguration({ cluster: { ...CLUSTER, version }, node: CP1, certificateKey: newCertificateKey(), platform }),
    'join-worker': joinConfiguration({ node: WORKER, apiServerEndpoint: endpoint, token: TOKEN, caCertHash: CA_HASH, platform }),
    'join-control-plane': joinConfiguration({
      node: CP2, apiServerEndpoint: endpoint, token: TOKEN, caCertHash: CA_HASH, controlPlane: { certificateKey: newCertificateKey() }, platform,
    }),
    upgrade: upgradeConfiguration({ version, node: CP1.name, platform }),
  };
}

for (const version of VERSIONS) {
  test(`kubeadm ${version} validates every configuration, for the default platform and the local platform`, { timeout: 3 * 3600_000 }, async (t) => {
    const kubeadm = await kubeadmOf(version);
    const dir = tempDir(t, 'herd-kubeadm-validate-');
    for (const platform of [DEFAULT_PLATFORM, LOCAL_PLATFORM]) {
      for (const [kind, text] of Object.entries(configurations(version, platform))) {
        const path = join(dir, `${platform.name}-${kind}.yaml`);
        writeFileSync(path, text);
        const { stdout } = await exec.run(kubeadm, ['config', 'validate', '--config', path]).catch((e: unknown) => {
          throw new Error(`${platform.name} ${kind} refused by kubeadm ${version}: ${e instanceof ExecError ? e.message : String(e)}\n${text}`);
        });
        assert.equal(stdout.trim(), 'ok', `${platform.name} ${kind}`);
      }
    }
  });
}

test('kubeadm validate does refuse a bad configuration (the check above can fail)', async (t) => {
  const kubeadm = await kubeadmOf(VERSIONS[0]!);
  const path = join(tempDir(t, 'herd-kubeadm-validate-'), 'bad.yaml');
  writeFileSync(path, configurations(VERSIONS[0]!, DEFAULT_PLATFORM).init!.replace(/certificateKey: \w+/, 'certificateKey: abc'));
  await assert.rejects(exec.run(kubeadm, ['config', 'validate', '--config', path]), /certificate key/);
});
