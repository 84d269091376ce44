import si from 'systeminformation';
import type { Facts } from '@herd/proto';

/** What the agent tells the coordinator about its machine in Hello. Read once per process (about 0.25 s). */
export async function readFacts(): Promise<Facts> {
  const [os, cpu, mem, interfaces] = await Promise.all([si.osInfo(), si.cpu(), si.mem(), si.networkInterfaces()]);
  const list = Array.isArray(interfaces) ? interfaces : [interfaces];
  return {
    os: os.distro,
    osVersion: os.release,
    kernel: os.kernel,
    arch: os.arch,
    cpus: cpu.cores,
    memoryBytes: mem.total,
    hostname: os.hostname,
    addresses: list.filter((i) => !i.internal).flatMap((i) => [i.ip4, i.ip6]).filter(Boolean),
  };
}
