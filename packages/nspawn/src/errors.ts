import { UserError } from '@herd/sys';

/** This host cannot run local machines (not root, a tool missing); the message says what to do. */
export class HostNotReadyError extends UserError {
  override readonly name = 'HostNotReadyError';
}

/** Every herd network index (10.213.1–254.0/24) is taken by a live process. */
export class NetworkExhaustedError extends Error {
  override readonly name = 'NetworkExhaustedError';
}

/** A machine did not come up: nspawn exited, or systemd was not running in time. `console` is the boot log's tail. */
export class MachineBootError extends Error {
  override readonly name = 'MachineBootError';
  constructor(readonly machine: string, reason: string, readonly console: string) {
    super(`machine ${machine}: ${reason}${console ? `\n--- console (last lines) ---\n${console}` : ''}`);
  }
}

/** Building the base image failed; the half-built directory was removed. */
export class ImageBuildError extends Error {
  override readonly name = 'ImageBuildError';
}
