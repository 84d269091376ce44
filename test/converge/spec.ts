import type { NodeSpec__Output } from '@herd/proto';

/** A NodeSpec with every field at its protobuf default, plus `fields`. */
export function nodeSpec(fields: Partial<NodeSpec__Output> = {}): NodeSpec__Output {
  return {
    hostname: '', cluster: 'test', pool: 'workers', role: 'worker', commit: 'c0ffee',
    swapOff: false, kernelModules: [], sysctls: {}, aptSources: [], packages: [], files: [], units: [], containerd: null,
    ...fields,
  };
}
