// Original file: proto/herd/v1/node.proto

import type { AptSource as _herd_v1_AptSource, AptSource__Output as _herd_v1_AptSource__Output } from '../../herd/v1/AptSource.js';
import type { Package as _herd_v1_Package, Package__Output as _herd_v1_Package__Output } from '../../herd/v1/Package.js';
import type { File as _herd_v1_File, File__Output as _herd_v1_File__Output } from '../../herd/v1/File.js';
import type { Unit as _herd_v1_Unit, Unit__Output as _herd_v1_Unit__Output } from '../../herd/v1/Unit.js';
import type { ContainerdSpec as _herd_v1_ContainerdSpec, ContainerdSpec__Output as _herd_v1_ContainerdSpec__Output } from '../../herd/v1/ContainerdSpec.js';

export interface NodeSpec {
  'hostname'?: (string);
  'cluster'?: (string);
  'pool'?: (string);
  'role'?: (string);
  'commit'?: (string);
  'swapOff'?: (boolean);
  'kernelModules'?: (string)[];
  'sysctls'?: ({[key: string]: string});
  'aptSources'?: (_herd_v1_AptSource)[];
  'packages'?: (_herd_v1_Package)[];
  'files'?: (_herd_v1_File)[];
  'units'?: (_herd_v1_Unit)[];
  'containerd'?: (_herd_v1_ContainerdSpec | null);
}

export interface NodeSpec__Output {
  'hostname': (string);
  'cluster': (string);
  'pool': (string);
  'role': (string);
  'commit': (string);
  'swapOff': (boolean);
  'kernelModules': (string)[];
  'sysctls': ({[key: string]: string});
  'aptSources': (_herd_v1_AptSource__Output)[];
  'packages': (_herd_v1_Package__Output)[];
  'files': (_herd_v1_File__Output)[];
  'units': (_herd_v1_Unit__Output)[];
  'containerd': (_herd_v1_ContainerdSpec__Output | null);
}
