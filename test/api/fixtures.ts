// What the repository tests share: files from a tree, and one profile with a bit of everything.
import type { RepositoryFile } from '@herd/api';

export const files = (tree: Record<string, string>): RepositoryFile[] => Object.entries(tree).map(([path, text]) => ({ path, text }));

export const PROFILE = `apiVersion: herd.dev/v1
kind: Profile
metadata: { name: base }
spec:
  provider: { kind: local, subnet: 10.213.9.0/24 }
  kubernetes: { version: 1.34.2, networking: { dnsDomain: corp.local } }
  os:
    packages: { containerd: 1.6.20~ds1-1, runc: 1.1.5-1 }
    sysctls: { net.ipv4.ip_forward: 1 }
    kernelModules: [overlay, br_netfilter]
  upgrade: { maxSurge: 1 }
`;
