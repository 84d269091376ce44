/** Every provider error: callers branch on the class, never on message text. */
export class ProviderError extends Error {
  override name = 'ProviderError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class MachineNotFoundError extends ProviderError {
  override name = 'MachineNotFoundError';
  constructor(readonly machine: string) {
    super(`machine ${machine} does not exist`);
  }
}

/** The provider has no room for another machine (cloud quota, static inventory used up, networks exhausted). */
export class QuotaExceededError extends ProviderError {
  override name = 'QuotaExceededError';
}

/** Worth retrying as it is: a timeout, a busy API, a machine still booting. */
export class TransientProviderError extends ProviderError {
  override name = 'TransientProviderError';
}

/** The provider cannot work on this host or with this configuration (not root, a tool missing); an operator must act. */
export class ProviderUnavailableError extends ProviderError {
  override name = 'ProviderUnavailableError';
}

/** A machine presented another SSH host key than the one pinned for it: refused, never ignored. */
export class HostKeyMismatchError extends ProviderError {
  override name = 'HostKeyMismatchError';
  constructor(readonly machine: string, readonly address: string, detail: string) {
    super(`the SSH host key of ${machine} (${address}) changed since it was pinned; refusing to connect. ${detail}`.trim());
  }
}
