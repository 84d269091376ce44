import type { NodeSpec } from '@herd/proto';

/** A NodeSpec of realistic size (about 3 KB on the wire): packages, sysctls, files, units. */
export function benchSpec(node: string, commit: string): NodeSpec {
  return {
    hostname: node, cluster: 'bench', pool: 'workers', role: 'worker', commit, swapOff: true,
    kernelModules: ['overlay', 'br_netfilter'],
    sysctls: { 'net.ipv4.ip_forward': '1', 'net.bridge.bridge-nf-call-iptables': '1' },
    packages: Array.from({ length: 20 }, (_, i) => ({ name: `package-${i}`, version: `1.${i}.0-1`, hold: true })),
    files: Array.from({ length: 3 }, (_, i) => ({ path: `/etc/herd/file-${i}.conf`, content: `# ${commit}\n${'setting = value\n'.repeat(40)}`, mode: 0o644 })),
    units: [{ name: 'containerd.service', enabled: true, running: true, restartOn: ['/etc/containerd/config.toml'] }],
  };
}
