/**
 * The control-plane endpoint with more than one control plane: a virtual IP that keepalived
 * (VRRP) moves between the control-plane machines, and on each of them a haproxy that
 * spreads connections to the VIP's port over every API server. kubeadm's documented pattern
 * (kubernetes/kubeadm docs/ha-considerations.md, "keepalived and haproxy", services on the
 * operating system), with unicast VRRP: multicast is unreliable on bridges and in clouds.
 */
import type { File } from '@herd/proto';
import { InvalidProfileInput } from './errors.js';
import { API_SERVER_PORT } from './config.js';
import * as valid from './validate.js';

export interface ControlPlaneEndpoint {
  vip: string;
  /** The port clients use on the VIP (haproxy's), for example 8443; not the API server's own. */
  port: number;
  apiServerPort: typeof API_SERVER_PORT;
  /** The network interface that carries the VIP (the same subnet on every control plane). */
  interface: string;
  /** VRRP's virtual_router_id, 1-255: the same on the cluster's control planes, unique among clusters on one subnet. */
  routerId: number;
  /** Every control plane, in a fixed order: the first holds the VIP while it is healthy. */
  controlPlanes: { name: string; address: string }[];
  /** VRRP PASS authentication, 1-8 characters (newVrrpPassword). */
  password: string;
}

export const KEEPALIVED_CONFIG_PATH = '/etc/keepalived/keepalived.conf';
export const KEEPALIVED_CHECK_PATH = '/etc/keepalived/check_apiserver.sh';
export const HAPROXY_CONFIG_PATH = '/etc/haproxy/haproxy.cfg';
/** curl runs the health check keepalived tracks (the pattern kubeadm documents). */
export const ENDPOINT_PACKAGES = ['keepalived', 'haproxy', 'curl'] as const;

/** Priorities 10 apart and a failure weight larger than the spread: a healthy node always beats a failing one. */
const PRIORITY_TOP = 150;
const PRIORITY_STEP = 10;
const FAILURE_WEIGHT = -100;

/** The endpoint as clients dial it: VIP:port. */
export function endpointAddress(e: ControlPlaneEndpoint): string {
  return e.vip.includes(':') ? `[${e.vip}]:${e.port}` : `${e.vip}:${e.port}`;
}

export function validateEndpoint(e: ControlPlaneEndpoint): void {
  valid.address('endpoint.vip', e.vip);
  valid.port('endpoint.port', e.port);
  if (e.apiServerPort !== API_SERVER_PORT) throw new InvalidProfileInput('endpoint.apiServerPort', `must be ${API_SERVER_PORT}, the API server's port`);
  if (e.port === API_SERVER_PORT) {
    throw new InvalidProfileInput('endpoint.port', `${e.port} is the API server's own port on the same machines; haproxy needs another (8443)`);
  }
  valid.word('endpoint.interface', e.interface);
  if (!Number.isInteger(e.routerId) || e.routerId < 1 || e.routerId > 255) throw new InvalidProfileInput('endpoint.routerId', `${e.routerId} is not a VRRP router id (1-255)`);
  if (!/^[A-Za-z0-9_-]{1,8}$/.test(e.password)) throw new InvalidProfileInput('endpoint.password', 'must be 1-8 letters, digits, _ or - (VRRP PASS authentication reads 8 characters)');
  if (!e.controlPlanes.length || e.controlPlanes.length > 5) throw new InvalidProfileInput('endpoint.controlPlanes', `${e.controlPlanes.length} control planes; 1 to 5 expected`);
  const seen = new Set<string>();
  for (const [i, cp] of e.controlPlanes.entries()) {
    valid.nodeName(`endpoint.controlPlanes[${i}].name`, cp.name);
    valid.address(`endpoint.controlPlanes[${i}].address`, cp.address);
    if (seen.has(cp.name)) throw new InvalidProfileInput(`endpoint.controlPlanes[${i}].name`, `${cp.name} is listed twice`);
    seen.add(cp.name);
  }
}

function placeOf(e: ControlPlaneEndpoint, self: { name: string; address: string }): number {
  const i = e.controlPlanes.findIndex((cp) => cp.name === self.name && cp.address === self.address);
  if (i < 0) throw new InvalidProfileInput('self', `${self.name} (${self.address}) is not among endpoint.controlPlanes`);
  return i;
}

/**
 * keepalived on one control plane: one VRRP instance holding the VIP, the first listed
 * control plane as MASTER with the highest priority, unicast to the others, and a tracked
 * health check that lowers the priority of a node whose haproxy has no healthy API server
 * behind it (a weight, not a fault: when every check fails, before the first `kubeadm
 * init`, the VIP still stays somewhere, which init needs).
 */
export function keepalivedConfig(e: ControlPlaneEndpoint, self: { name: string; address: string }): string {
  validateEndpoint(e);
  const place = placeOf(e, self);
  const peers = e.controlPlanes.filter((_, i) => i !== place).map((cp) => `        ${cp.address}\n`).join('');
  const prefix = e.vip.includes(':') ? 128 : 32;
  return `# Written by herd (@herd/kubeadm): the control-plane VIP, ${endpointAddress(e)}
global_defs {
    router_id ${self.name}
    enable_script_security
    script_user root
}

vrrp_script check_apiserver {
    script "${KEEPALIVED_CHECK_PATH}"
    interval 3
    timeout 5
    weight ${FAILURE_WEIGHT}
    fall 3
    rise 2
}

vrrp_instance herd_apiserver {
    state ${place === 0 ? 'MASTER' : 'BACKUP'}
    interface ${e.interface}
    virtual_router_id ${e.routerId}
    priority ${PRIORITY_TOP - PRIORITY_STEP * place}
    advert_int 1
    unicast_src_ip ${self.address}
    unicast_peer {
${peers}    }
    authentication {
        auth_type PASS
        auth_pass ${e.password}
    }
    virtual_ipaddress {
        ${e.vip}/${prefix} dev ${e.interface}
    }
    track_script {
        check_apiserver
    }
}
`;
}

/**
 * The check keepalived runs: haproxy on this machine answers on the endpoint's port with a
 * healthy API server behind it, and, where this machine holds the VIP, through the VIP too.
 */
export function checkApiserverScript(e: ControlPlaneEndpoint): string {
  validateEndpoint(e);
  const url = (host: string) => `https://${host}:${e.port}/healthz`;
  return `#!/bin/sh
# Written by herd (@herd/kubeadm): keepalived's health check for ${endpointAddress(e)}.
fail() { echo "*** $*" >&2; exit 1; }
get() { curl --silent --fail --max-time 2 --insecure -o /dev/null "$1" || fail "GET $1 failed"; }
get ${url('localhost')}
if ip -o addr show | grep -qF " ${e.vip}/"; then
  get ${url(e.vip.includes(':') ? `[${e.vip}]` : e.vip)}
fi
`;
}

/**
 * haproxy on every control plane: TCP on *:port (TLS stays end to end with the API
 * servers), round robin over every control plane's API server, each checked with
 * GET /healthz over TLS (unverified: the check only asks whether it answers 200). Long
 * client/server timeouts, because watches and `kubectl exec` hold connections open.
 */
export function haproxyConfig(e: ControlPlaneEndpoint): string {
  validateEndpoint(e);
  const servers = e.controlPlanes.map((cp) => `    server ${cp.name} ${cp.address}:${e.apiServerPort} check check-ssl verify none\n`).join('');
  return `# Written by herd (@herd/kubeadm): the control-plane endpoint, ${endpointAddress(e)}
global
    log stdout format raw local0 info

defaults
    mode tcp
    log global
    option tcplog
    option dontlognull
    option redispatch
    retries 1
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout check 5s

frontend apiserver
    bind *:${e.port}
    default_backend apiservers

backend apiservers
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 2s downinter 5s rise 2 fall 3
${servers}`;
}

/** The endpoint's files on one control plane; keepalived's holds the VRRP password, so root only. */
export function endpointFiles(e: ControlPlaneEndpoint, self: { name: string; address: string }): File[] {
  return [
    { path: KEEPALIVED_CONFIG_PATH, content: keepalivedConfig(e, self), mode: 0o600 },
    { path: KEEPALIVED_CHECK_PATH, content: checkApiserverScript(e), mode: 0o755 },
    { path: HAPROXY_CONFIG_PATH, content: haproxyConfig(e), mode: 0o644 },
  ];
}
