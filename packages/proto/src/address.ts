/** A coordinator address as flags give it, `HOST:PORT` (IPv6 hosts in brackets). */
export interface HostPort {
  host: string;
  port: number;
}

/** Parses `HOST:PORT`; undefined when malformed. Port 0 is allowed (listen on any free port). */
export function parseHostPort(address: string): HostPort | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  if (!match || !(port >= 0 && port < 65536)) return undefined;
  return { host: (match[1] ?? match[2])!, port };
}

/** The form gRPC targets and URLs want: IPv6 in brackets. */
export function formatHostPort({ host, port }: HostPort): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The name every coordinator's server certificate carries and every herd client verifies,
 * whatever address it dials: machines reach the coordinator on addresses that come and go
 * (a new cluster's bridge, NAT), and the CA pin, not the address, is what identifies it.
 */
export const COORDINATOR_TLS_NAME = 'herd-coordinator';

/** gRPC channel options that make a client verify the coordinator by COORDINATOR_TLS_NAME. */
export const COORDINATOR_CHANNEL_OPTIONS = {
  'grpc.ssl_target_name_override': COORDINATOR_TLS_NAME,
  'grpc.default_authority': COORDINATOR_TLS_NAME,
} as const;
