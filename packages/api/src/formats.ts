/**
 * String formats of the herd.dev/v1 schema. Each has a checker (stricter than a regular
 * expression where it matters, like CIDR octets) and the phrase an error uses for what
 * was expected. Values that reach a machine (package names, versions, sysctls, modules)
 * are restricted to characters that can never mean anything to a shell or to apt.
 */
export interface Format {
  /** Completes "expected ...". */
  expected: string;
  check(value: string): boolean;
  /** A pattern for editors (JSON Schema); the checker has the last word. */
  pattern: string;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function parseIPv4(text: string): number | undefined {
  const m = IPV4.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o, i) => o > 255 || m[i + 1]!.length > 1 && m[i + 1]!.startsWith('0'))) return undefined;
  return octets.reduce((acc, o) => acc * 256 + o, 0);
}

export interface Cidr { base: number; prefix: number }

/** Parses `A.B.C.D/N` with the host bits zero; undefined if it is not one. */
export function parseCidr(text: string): Cidr | undefined {
  const [ip, bits, extra] = text.split('/');
  if (extra !== undefined || !bits || !/^\d{1,2}$/.test(bits)) return undefined;
  const base = parseIPv4(ip ?? '');
  const prefix = Number(bits);
  if (base === undefined || prefix > 32) return undefined;
  const hostBits = 2 ** (32 - prefix);
  return base % hostBits === 0 ? { base, prefix } : undefined;
}

/** Milliseconds of a `duration` value (`1h30m`); the format is checked separately. */
export function durationMs(text: string): number {
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const m of text.matchAll(/(\d+)(ms|s|m|h)/g)) total += Number(m[1]) * unit[m[2]!]!;
  return total;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const aEnd = a.base + 2 ** (32 - a.prefix);
  const bEnd = b.base + 2 ** (32 - b.prefix);
  return a.base < bEnd && b.base < aEnd;
}

function hostPort(value: string): boolean {
  const m = /^(.+?)(?::(\d{1,5}))?$/.exec(value);
  if (!m) return false;
  if (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535)) return false;
  return parseIPv4(m[1]!) !== undefined || (DNS_SUBDOMAIN.test(m[1]!) && m[1]!.length <= 253);
}

export const FORMATS = {
  'dns-label': {
    expected: 'a DNS label: lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit',
    pattern: DNS_LABEL.source,
    check: (v) => DNS_LABEL.test(v),
  },
  'kubernetes-version': {
    expected: 'an exact Kubernetes version MAJOR.MINOR.PATCH such as 1.34.2 (no leading "v")',
    pattern: '^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)$',
    check: (v) => /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/.test(v),
  },
  cidr: {
    expected: 'an IPv4 network in CIDR notation with the host bits zero, such as 10.244.0.0/16',
    pattern: '^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$',
    check: (v) => parseCidr(v) !== undefined,
  },
  endpoint: {
    expected: 'a host name or IPv4 address with an optional port, such as 10.0.0.10:6443',
    pattern: '^[A-Za-z0-9.-]+(:[0-9]{1,5})?$',
    check: hostPort,
  },
  ipv4: {
    expected: 'an IPv4 address such as 10.0.0.5',
    pattern: '^[0-9]{1,3}(\\.[0-9]{1,3}){3}$',
    check: (v) => parseIPv4(v) !== undefined,
  },
  'debian-package': {
    expected: 'a Debian package name: lowercase letters, digits, "+", "-" and ".", at least 2 characters, starting with a letter or digit',
    pattern: '^[a-z0-9][a-z0-9+.-]+$',
    check: (v) => /^[a-z0-9][a-z0-9+.-]+$/.test(v) && v.length <= 128,
  },
  'debian-version': {
    expected: 'an exact Debian version such as 1.6.20~ds1-1 or 2:1.2.3-4 (digits first; letters, digits and . + ~ - :)',
    pattern: '^([0-9]+:)?[0-9][A-Za-z0-9.+~-]*$',
    check: (v) => /^([0-9]+:)?[0-9][A-Za-z0-9.+~-]*$/.test(v) && v.length <= 128,
  },
  'sysctl-key': {
    expected: 'a sysctl key such as net.ipv4.ip_forward',
    pattern: '^[a-z][a-z0-9_]*(\\.[A-Za-z0-9_-]+)+$',
    check: (v) => /^[a-z][a-z0-9_]*(\.[A-Za-z0-9_-]+)+$/.test(v) && v.length <= 256,
  },
  'sysctl-value': {
    expected: 'a sysctl value: letters, digits, spaces and . , : / + -',
    pattern: '^[A-Za-z0-9 ._:,/+-]+$',
    check: (v) => /^[A-Za-z0-9 ._:,/+-]+$/.test(v) && v.length <= 256,
  },
  'kernel-module': {
    expected: 'a kernel module name: letters, digits, "_" and "-"',
    pattern: '^[A-Za-z0-9_-]+$',
    check: (v) => /^[A-Za-z0-9_-]{1,64}$/.test(v),
  },
  'label-key': {
    expected: 'a Kubernetes label key: an optional DNS subdomain prefix and "/", then a name of at most 63 letters, digits, "-", "_" and "."',
    pattern: '^([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$',
    check: (v) => {
      const slash = v.lastIndexOf('/');
      const prefix = slash >= 0 ? v.slice(0, slash) : undefined;
      const name = v.slice(slash + 1);
      return LABEL_NAME.test(name) && (prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix)));
    },
  },
  'label-value': {
    expected: 'a Kubernetes label value: empty, or at most 63 letters, digits, "-", "_" and "." starting and ending with a letter or digit',
    pattern: '^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$',
    check: (v) => v === '' || LABEL_NAME.test(v),
  },
  'dns-domain': {
    expected: 'a DNS domain: DNS labels joined by ".", each at most 63 characters, at most 253 in all',
    pattern: DNS_SUBDOMAIN.source,
    check: (v) => v.length <= 253 && DNS_SUBDOMAIN.test(v),
  },
  duration: {
    expected: 'a duration such as 90s, 15m or 1h30m',
    pattern: '^([0-9]+(ms|s|m|h))+$',
    check: (v) => /^([0-9]+(ms|s|m|h))+$/.test(v),
  },
  percent: {
    expected: 'a percentage from 0% to 100%',
    pattern: '^(100|[1-9]?[0-9])%$',
    check: (v) => /^(100|[1-9]?[0-9])%$/.test(v),
  },
  quantity: {
    expected: 'a size such as 512Mi, 4Gi or 1Ti',
    pattern: '^[1-9][0-9]*(Mi|Gi|Ti)$',
    check: (v) => /^[1-9][0-9]*(Mi|Gi|Ti)$/.test(v),
  },
  'file-path': {
    expected: 'a relative path inside the repository (letters, digits, / . _ -), without ".."',
    pattern: '^[A-Za-z0-9._/-]+$',
    check: (v) => /^[A-Za-z0-9._/-]+$/.test(v) && !v.split('/').includes('..') && !v.startsWith('/'),
  },
  'ssh-host-key': {
    expected: 'an SSH public host key such as "ssh-ed25519 AAAAC3Nz..."',
    pattern: '^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521) [A-Za-z0-9+/]+=*$',
    check: (v) => /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+=*$/.test(v),
  },
} satisfies Record<string, Format>;

export type FormatName = keyof typeof FORMATS;
