// Inputs shared by the @herd/kubeadm tests: a cluster, nodes, an endpoint, Debian versions.
import { parseAllDocuments } from 'yaml';
import type { ClusterConfig, ControlPlaneEndpoint } from '@herd/kubeadm';
import { localPlatform } from '@herd/provider-local';

export const CLUSTER: ClusterConfig = {
  name: 'prod-eu',
  version: '1.34.4',
  controlPlaneEndpoint: '10.0.0.100:8443',
  podSubnet: '10.244.0.0/16',
  serviceSubnet: '10.96.0.0/12',
  dnsDomain: 'cluster.local',
};

export const CP1 = { name: 'cp-1', address: '10.0.0.11' };
export const CP2 = { name: 'cp-2', address: '10.0.0.12' };
export const CP3 = { name: 'cp-3', address: '10.0.0.13' };
export const WORKER = { name: 'w-1', address: '10.0.0.21' };
export const TOKEN = 'abcdef.0123456789abcdef';
export const CA_HASH = `sha256:${'ab'.repeat(32)}`;
export const CERT_KEY = 'cd'.repeat(32);
export const PAUSE = 'registry.k8s.io/pause:3.10.1';

export const ENDPOINT: ControlPlaneEndpoint = {
  vip: '10.0.0.100',
  port: 8443,
  apiServerPort: 6443,
  interface: 'eth0',
  routerId: 51,
  controlPlanes: [CP1, CP2, CP3],
  password: 'Secr3t-8',
};

/** Debian bookworm's versions (the test world's bundle), plus the endpoint's packages. */
export const DEBIAN: Record<string, string> = {
  containerd: '1.6.20~ds1-1+deb12u2',
  runc: '1.1.5+ds1-1+deb12u1',
  'containernetworking-plugins': '1.1.1+ds1-3+b11',
  conntrack: '1:1.4.7-1+b2',
  iptables: '1.8.9-2',
  ethtool: '1:6.1-1',
  socat: '1.7.4.4-2',
  ebtables: '2.0.11-5',
  keepalived: '1:2.2.7-1+b2',
  haproxy: '2.6.12-1+deb12u4',
  curl: '7.88.1-10+deb12u14',
};

/** Every YAML document of a kubeadm configuration, as plain objects, by kind. */
export function byKind(text: string): Record<string, Record<string, any>> {
  const docs = parseAllDocuments(text).map((d) => {
    if (d.errors.length) throw new Error(`bad YAML: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as Record<string, any>;
  });
  return Object.fromEntries(docs.map((d) => [d.kind as string, d]));
}

/** The local provider's platform (nspawn machines), over a stand-in for its cache of built artifacts. */
export const LOCAL_PLATFORM = localPlatform({ imageRefs: () => ['registry.k8s.io/pause:3.10.1'], debianVersions: () => ({}) });
