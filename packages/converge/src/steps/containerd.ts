import type { Item, Step } from '../step.js';
import { fileItem } from '../util.js';

export const CONTAINERD_CONFIG = '/etc/containerd/config.toml';
const DEFAULT_SANDBOX_IMAGE = 'registry.k8s.io/pause:3.10';

/** containerd's config for the kubelet: CRI on, the systemd cgroup driver (as kubelet's), the sandbox image. */
export function containerdConfig(sandboxImage: string): string {
  return [
    '# Written by herd: containerd configured for Kubernetes.',
    'version = 2',
    'disabled_plugins = []',
    '',
    '[plugins."io.containerd.grpc.v1.cri"]',
    `  sandbox_image = ${JSON.stringify(sandboxImage || DEFAULT_SANDBOX_IMAGE)}`,
    '',
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
    '  runtime_type = "io.containerd.runc.v2"',
    '',
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
    '  SystemdCgroup = true',
    '',
  ].join('\n');
}

interface ConfigItem extends Item {
  content: string;
}

/** Only when spec.containerd.enabled; restarts containerd when its config changed. */
export const containerdStep: Step<ConfigItem> = {
  name: 'Containerd',
  dependsOn: ['Packages'],
  async observe(spec, ctx) {
    if (!spec.containerd?.enabled) return [];
    const content = containerdConfig(spec.containerd.sandboxImage);
    return [await fileItem(ctx.files, CONTAINERD_CONFIG, content)];
  },
  async apply([change], ctx) {
    await ctx.writeFile(CONTAINERD_CONFIG, change!.content, { mode: 0o644 });
    await ctx.execute('systemctl', ['restart', 'containerd.service']);
  },
};
