import type { Step } from '../step.js';
import { aptPackageManager } from '../apt.js';
import type { PackageManager } from '../package-manager.js';
import { hostnameStep } from './hostname.js';
import { swapStep } from './swap.js';
import { kernelModulesStep } from './kernel-modules.js';
import { sysctlStep } from './sysctl.js';
import { aptSourcesStep } from './apt-sources.js';
import { packagesStep } from './packages.js';
import { filesStep } from './files.js';
import { containerdStep } from './containerd.js';
import { unitsStep } from './units.js';

/**
 * Every OS step in the order a round runs them: modules before the sysctls that need them,
 * sources before packages, packages and files before the units that use them, containerd's
 * config before units so a unit restarting on it sees the change.
 */
export function defaultSteps(packageManager: PackageManager = aptPackageManager()): Step[] {
  return [hostnameStep, swapStep, kernelModulesStep, sysctlStep, aptSourcesStep, packagesStep(packageManager), filesStep, containerdStep, unitsStep] as Step[];
}

export { hostnameStep, swapStep, kernelModulesStep, sysctlStep, aptSourcesStep, packagesStep, filesStep, containerdStep, unitsStep };
