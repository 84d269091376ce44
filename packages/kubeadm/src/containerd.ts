/**
 * The container runtime's files for the kubelet: containerd's configuration (shipped as a
 * File, not through NodeSpec.containerd, so the platform's settings reach it), with the CNI
 * directories (the pod network's own configuration comes from flannel: network.ts).
 */
import type { File } from '@herd/proto';
import type { Platform, RegistryMirror } from './platform.js';
import { InvalidProfileInput } from './errors.js';
import * as valid from './validate.js';

export const CONTAINERD_CONFIG_PATH = '/etc/containerd/config.toml';
export const CNI_CONF_DIR = '/etc/cni/net.d';
/** Where Debian's containernetworking-plugins installs the plugins. */
export const CNI_BIN_DIR = '/usr/lib/cni';
/** containerd's registry host directory: certs.d/HOST[:PORT]/hosts.toml, read at every pull (no restart). */
export const CONTAINERD_CERTS_DIR = '/etc/containerd/certs.d';

/**
 * containerd 1.6+ (config version 2) for the kubelet:
 * - `sandbox_image`: the pause image kubeadm lists for the version (containerd's own default
 *   is older, and an air-gapped node has only the listed one);
 * - `SystemdCgroup` matches the kubelet's cgroup driver (a mismatch makes pods fail);
 * - `snapshotter`, `restrict_oom_score_adj`, `NoNewKeyring` only where the platform needs
 *   them (platform.ts says why);
 * - CNI plugins where Debian installs them;
 * - `config_path` when the platform has a registry mirror (registryHostsFiles writes its hosts).
 */
export function containerdConfig(o: { platform: Platform; pauseImage: string; mirror?: RegistryMirror }): string {
  const { containerd, cgroupDriver, name } = o.platform;
  const image = valid.word('pauseImage', o.pauseImage);
  const snapshotter = containerd.snapshotter === undefined ? '' : `    snapshotter = "${valid.word('platform.containerd.snapshotter', containerd.snapshotter)}"\n`;
  return `# Written by herd (@herd/kubeadm) for ${name} machines
version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${image}"
${containerd.restrictOomScoreAdj ? '  restrict_oom_score_adj = true\n' : ''}
  [plugins."io.containerd.grpc.v1.cri".containerd]
${snapshotter}    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = ${cgroupDriver === 'systemd'}
${containerd.noNewKeyring ? '        NoNewKeyring = true\n' : ''}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN_DIR}"
    conf_dir = "${CNI_CONF_DIR}"
${o.mirror ? `\n  [plugins."io.containerd.grpc.v1.cri".registry]\n    config_path = "${CONTAINERD_CERTS_DIR}"\n` : ''}`;
}

/** Where a registry name's own API is: docker.io's is registry-1.docker.io (as containerd's default resolver knows). */
function upstream(registry: string): string {
  return registry === 'docker.io' ? 'https://registry-1.docker.io' : `https://${registry}`;
}

/**
 * containerd's hosts.toml for every registry the mirror stands in for: pull and resolve at
 * the mirror (it serves their images under the same paths), the registry itself as the
 * fallback `server`; and one for the mirror's own HOST:PORT, so images named by it are
 * pulled over plain HTTP when the endpoint is http.
 */
export function registryHostsFiles(mirror: RegistryMirror): File[] {
  const m = /^(https?):\/\/([^/]+)$/.exec(mirror.endpoint);
  if (!m) throw new InvalidProfileInput('registryMirror.endpoint', `${JSON.stringify(mirror.endpoint)} is not http://HOST:PORT or https://HOST:PORT`);
  const own = valid.endpoint('registryMirror.endpoint', m[2]!);
  const hosts = (server: string) => `# Written by herd (@herd/kubeadm): pulls go to the registry mirror ${mirror.endpoint}
server = "${server}"

[host."${mirror.endpoint}"]
  capabilities = ["pull", "resolve"]
`;
  return [
    ...mirror.registries.map((registry) => {
      valid.word('registryMirror.registries', registry);
      if (registry === own) throw new InvalidProfileInput('registryMirror.registries', `${registry} is the mirror itself`);
      return { path: `${CONTAINERD_CERTS_DIR}/${registry}/hosts.toml`, content: hosts(upstream(registry)), mode: 0o644 };
    }),
    // The mirror itself; containerd 1.6 refuses a hosts.toml without a [host] table ("invalid `host` tree").
    { path: `${CONTAINERD_CERTS_DIR}/${own}/hosts.toml`, content: hosts(mirror.endpoint), mode: 0o644 },
  ];
}
