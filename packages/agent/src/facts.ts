import { arch, cpus, hostname, networkInterfaces, release, totalmem } from 'node:os';
import { nodeFileSystem, type FileSystem } from '@herd/sys';
import type { Facts } from '@herd/proto';

/** Where systemd's os-release(5) lives: /etc first, the vendor copy as the fallback. */
const OS_RELEASE = ['/etc/os-release', '/usr/lib/os-release'];

/** KEY=value lines of os-release(5); values may be quoted. */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) fields[match[1]!] = match[2]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  return fields;
}

/**
 * What the agent tells the coordinator about its machine in Hello, read once per process
 * from os-release and node:os (a general system-information library cost the resident agent
 * about 7 MB for these eight values). Addresses: per interface that is not loopback, its
 * first IPv4 and first IPv6 address, in the kernel's interface order.
 */
export async function readFacts(fs: FileSystem = nodeFileSystem()): Promise<Facts> {
  let osRelease: Record<string, string> = {};
  for (const path of OS_RELEASE) {
    const text = await fs.read(path);
    if (text !== undefined) { osRelease = parseOsRelease(text); break; }
  }
  const addresses: string[] = [];
  for (const entries of Object.values(networkInterfaces())) {
    if (!entries?.length || entries[0]!.internal) continue;
    const ip4 = entries.find((e) => e.family === 'IPv4')?.address;
    const ip6 = entries.find((e) => e.family === 'IPv6')?.address;
    addresses.push(...[ip4, ip6].filter((a): a is string => Boolean(a)));
  }
  return {
    os: osRelease.NAME ?? 'unknown',
    osVersion: osRelease.VERSION_ID ?? 'unknown',
    kernel: release(),
    arch: arch(),
    cpus: cpus().length,
    memoryBytes: totalmem(),
    hostname: hostname(),
    addresses,
  };
}
