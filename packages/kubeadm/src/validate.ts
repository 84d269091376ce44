/** Checks of the values that end up in generated files, so bad input fails here, by field, and not in kubeadm on a machine. */
import { isIP } from 'node:net';
import { InvalidProfileInput } from './errors.js';

function check(ok: boolean, field: string, value: unknown, expected: string): void {
  if (!ok) throw new InvalidProfileInput(field, `${JSON.stringify(value)} is not ${expected}`);
}

/** A Kubernetes node name: a DNS subdomain (lower case, digits, '-' and '.'). */
export function nodeName(field: string, v: string): string {
  check(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(v) && v.length <= 253, field, v, 'a node name (a lower-case DNS subdomain)');
  return v;
}

export function address(field: string, v: string): string {
  check(isIP(v) !== 0, field, v, 'an IP address');
  return v;
}

export function port(field: string, v: number): number {
  check(Number.isInteger(v) && v > 0 && v < 65536, field, v, 'a TCP port');
  return v;
}

/** host:port, the host an IP address or a DNS name (IPv6 in brackets). */
export function endpoint(field: string, v: string): string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d+)$/.exec(v);
  check(m !== null && Number(m[2]) > 0 && Number(m[2]) < 65536, field, v, 'HOST:PORT');
  return v;
}

export function cidr(field: string, v: string): string {
  const [ip, bits, ...rest] = v.split('/');
  const family = isIP(ip ?? '');
  const n = Number(bits);
  check(family !== 0 && rest.length === 0 && /^\d+$/.test(bits ?? '') && n <= (family === 4 ? 32 : 128), field, v, 'a CIDR like 10.244.0.0/16');
  return v;
}

/** A bootstrap token, [a-z0-9]{6}.[a-z0-9]{16}. */
export function token(field: string, v: string): string {
  check(/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(v), field, v, 'a bootstrap token like abcdef.0123456789abcdef');
  return v;
}

export function caCertHash(field: string, v: string): string {
  check(/^sha256:[0-9a-f]{64}$/.test(v), field, v, 'a CA public key hash like sha256:<64 hex digits>');
  return v;
}

export function certificateKey(field: string, v: string): string {
  check(/^[0-9a-f]{64}$/.test(v), field, v, 'a certificate key (64 hex digits, from newCertificateKey)');
  return v;
}

/** A value written unquoted into a plain-text configuration (keepalived, haproxy): no spaces, quotes or braces. */
export function word(field: string, v: string): string {
  check(/^[A-Za-z0-9_.:@/+=-]+$/.test(v), field, v, 'a single word (letters, digits and _ . : @ / + = -)');
  return v;
}
