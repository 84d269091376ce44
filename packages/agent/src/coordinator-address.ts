import { parseHostPort, type HostPort } from '@herd/proto';
import { UserError } from '@herd/sys';

/** `HOST:PORT` of a coordinator (a port is required). */
export function coordinatorAddress(address: string): HostPort {
  const parsed = parseHostPort(address);
  if (!parsed || parsed.port === 0) throw new UserError(`"${address}" is not HOST:PORT`);
  return parsed;
}
