/**
 * The cluster's pod network: flannel (vxlan), deployed the way its users deploy it, as
 * kube-flannel.yml's DaemonSet (docs/dependencies.md says why flannel and why a DaemonSet).
 * kubeadm installs no CNI, so every control plane carries the manifest and a small add-on
 * manager that applies it with kubectl once the API answers, and again every minute (what
 * is deleted by hand comes back; an edited manifest is applied when it changes). Pure.
 */
import { stringify } from 'yaml';
import type { File, Unit } from '@herd/proto';
import { CNI_BIN_DIR, CNI_CONF_DIR } from './containerd.js';
import * as valid from './validate.js';

/** flannel's release and images (scripts/build-kubernetes.sh builds the same for air-gapped platforms). */
export const FLANNEL_VERSION = 'v0.28.10';
export const FLANNEL_IMAGE = `ghcr.io/flannel-io/flannel:${FLANNEL_VERSION}`;
/** The image kube-flannel.yml copies the CNI plugin from (its /flannel). */
export const FLANNEL_CNI_IMAGE = 'ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3';
/** flannel's VXLAN port (the Linux default, 8472) and device; nodes must reach each other on it. */
export const FLANNEL_VXLAN_PORT = 8472;
export const FLANNEL_NAMESPACE = 'kube-flannel';
/** The CNI configuration flannel's init container writes on every node. */
export const FLANNEL_CNI_CONFIG_PATH = `${CNI_CONF_DIR}/10-flannel.conflist`;

export const ADDONS_DIR = '/etc/kubernetes/herd-addons';
export const FLANNEL_MANIFEST_PATH = `${ADDONS_DIR}/kube-flannel.yaml`;
export const APPLY_ADDONS_SCRIPT = '/usr/local/sbin/herd-apply-addons';
export const ADDONS_UNIT = 'herd-addons.service';
const ADMIN_KUBECONFIG = '/etc/kubernetes/admin.conf';

type Yaml = Record<string, unknown>;

/**
 * kube-flannel.yml of flannel v0.28.10 (Documentation/kube-flannel.yml) for a cluster whose
 * pod network is `podSubnet`, with four changes: flanneld's public IP is the node's address
 * (machines behind a bridge have no default route to find it by); the CNI plugin goes where
 * Debian's containernetworking-plugins keeps the others (containerd's bin_dir); the CNI
 * configuration says cniVersion 0.3.1 (what the plugin and Debian's bridge and host-local
 * agree on); it is copied with cp (the images carry busybox).
 */
export function flannelManifest(o: { podSubnet: string; apiServerEndpoint?: string }): string {
  const network = valid.cidr('podSubnet', o.podSubnet);
  const api = o.apiServerEndpoint === undefined ? undefined : valid.endpoint('apiServerEndpoint', o.apiServerEndpoint);
  const labels = { 'k8s-app': 'flannel' };
  const cniConf = {
    name: 'cbr0',
    cniVersion: '0.3.1',
    plugins: [
      { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  // --ip-masq: traffic from pods to anything outside the pod network leaves with the node's address.
  const netConf = { Network: network, EnableNFTables: false, Backend: { Type: 'vxlan' } };
  const docs: Yaml[] = [
    { kind: 'Namespace', apiVersion: 'v1', metadata: { name: FLANNEL_NAMESPACE, labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'privileged' } } },
    {
      kind: 'ClusterRole', apiVersion: 'rbac.authorization.k8s.io/v1', metadata: { labels, name: 'flannel' },
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
        { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] },
      ],
    },
    {
      kind: 'ClusterRoleBinding', apiVersion: 'rbac.authorization.k8s.io/v1', metadata: { labels, name: 'flannel' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'flannel' },
      subjects: [{ kind: 'ServiceAccount', name: 'flannel', namespace: FLANNEL_NAMESPACE }],
    },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { labels, name: 'flannel', namespace: FLANNEL_NAMESPACE } },
    {
      kind: 'ConfigMap', apiVersion: 'v1',
      metadata: { name: 'kube-flannel-cfg', namespace: FLANNEL_NAMESPACE, labels: { tier: 'node', ...labels, app: 'flannel' } },
      data: { 'cni-conf.json': `${JSON.stringify(cniConf, null, 2)}\n`, 'net-conf.json': `${JSON.stringify(netConf, null, 2)}\n` },
    },
    {
      apiVersion: 'apps/v1', kind: 'DaemonSet',
      metadata: { name: 'kube-flannel-ds', namespace: FLANNEL_NAMESPACE, labels: { tier: 'node', app: 'flannel', ...labels } },
      spec: {
        selector: { matchLabels: { app: 'flannel' } },
        template: {
          metadata: { labels: { tier: 'node', app: 'flannel' } },
          spec: {
            affinity: {
              nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/os',
                operator: 'In', values: ['linux'] }] }] } },
            },
            hostNetwork: true,
            priorityClassName: 'system-node-critical',
            tolerations: [{ operator: 'Exists', effect: 'NoSchedule' }],
            serviceAccountName: 'flannel',
            initContainers: [
              {
                name: 'install-cni-plugin', image: FLANNEL_CNI_IMAGE, command: ['cp'], args: ['-f', '/flannel', '/opt/cni/bin/flannel'],
                volumeMounts: [{ name: 'cni-plugin', mountPath: '/opt/cni/bin' }],
              },
              {
                name: 'install-cni', image: FLANNEL_IMAGE, command: ['cp'], args: ['-f', '/etc/kube-flannel/cni-conf.json', FLANNEL_CNI_CONFIG_PATH],
                volumeMounts: [{ name: 'cni', mountPath: CNI_CONF_DIR }, { name: 'flannel-cfg', mountPath: '/etc/kube-flannel/' }],
              },
            ],
            containers: [{
              name: 'kube-flannel', image: FLANNEL_IMAGE, command: ['/opt/bin/flanneld'],
              // --public-ip: the node's address (herd sets the kubelet's node-ip): flannel would
              // otherwise take the default route's interface, and machines behind a bridge have none.
              args: ['--ip-masq', '--kube-subnet-mgr', '--healthz-port=8081', '--public-ip=$(NODE_IP)'],
              ports: [{ name: 'healthz', containerPort: 8081, protocol: 'TCP' }],
              livenessProbe: { httpGet: { path: '/healthz', port: 'healthz' }, initialDelaySeconds: 10, periodSeconds: 30 },
              readinessProbe: { httpGet: { path: '/readyz', port: 'healthz' }, initialDelaySeconds: 5, periodSeconds: 10 },
              resources: { requests: { cpu: '100m', memory: '50Mi' } },
              securityContext: { privileged: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                { name: 'NODE_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
                // The API server itself rather than its ClusterIP: a host-network process reaches a
                // ClusterIP only through a route, and machines behind a bridge have no default route
                // (kube-proxy's own kubeconfig names the endpoint for the same reason).
                ...(api === undefined ? [] : [
                  { name: 'KUBERNETES_SERVICE_HOST', value: api.slice(0, api.lastIndexOf(':')).replace(/^\[|\]$/g, '') },
                  { name: 'KUBERNETES_SERVICE_PORT', value: api.slice(api.lastIndexOf(':') + 1) },
                ]),
                { name: 'EVENT_QUEUE_DEPTH', value: '5000' },
                { name: 'CONT_WHEN_CACHE_NOT_READY', value: 'false' },
              ],
              volumeMounts: [
                { name: 'run', mountPath: '/run/flannel' },
                { name: 'flannel-cfg', mountPath: '/etc/kube-flannel/' },
                { name: 'xtables-lock', mountPath: '/run/xtables.lock' },
              ],
            }],
            volumes: [
              { name: 'run', hostPath: { path: '/run/flannel' } },
              { name: 'cni-plugin', hostPath: { path: CNI_BIN_DIR } },
              { name: 'cni', hostPath: { path: CNI_CONF_DIR } },
              { name: 'flannel-cfg', configMap: { name: 'kube-flannel-cfg' } },
              { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
            ],
          },
        },
      },
    },
  ];
  return docs.map((d) => stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
}

/**
 * The add-on manager: waits for the admin kubeconfig (kubeadm init or a control-plane join
 * writes it), applies every manifest in ADDONS_DIR, then again every minute. Server-side
 * apply with herd as the field manager, so another control plane doing the same agrees.
 */
export function applyAddonsScript(): string {
  return `#!/bin/sh
# Written by herd (@herd/kubeadm): applies the cluster's add-ons in ${ADDONS_DIR} (the pod network).
set -u
while :; do
  if [ -f ${ADMIN_KUBECONFIG} ] && kubectl --kubeconfig ${ADMIN_KUBECONFIG} apply --server-side --force-conflicts \\
      --field-manager herd -f ${ADDONS_DIR} >/dev/null; then
    sleep 60
  else
    sleep 5
  fi
done
`;
}

/** The manifest, the script and its unit, for a control plane of a cluster whose pod network is `podSubnet`. */
export function addonParts(o: { podSubnet: string; apiServerEndpoint?: string }): { files: File[]; units: Unit[] } {
  const unit = `[Unit]
Description=herd: applies the cluster's add-ons (${ADDONS_DIR})
After=network-online.target

[Service]
ExecStart=${APPLY_ADDONS_SCRIPT}
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
`;
  return {
    files: [
      { path: FLANNEL_MANIFEST_PATH, content: flannelManifest(o), mode: 0o644 },
      { path: APPLY_ADDONS_SCRIPT, content: applyAddonsScript(), mode: 0o755 },
    ],
    units: [{ name: ADDONS_UNIT, content: unit, enabled: true, running: true, restartOn: [FLANNEL_MANIFEST_PATH, APPLY_ADDONS_SCRIPT] }],
  };
}
