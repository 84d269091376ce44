/**
 * An error the user caused and can fix (bad input, a missing file, a refused request).
 * The CLI prints its message without a stack trace and exits with `exitCode`.
 */
export class UserError extends Error {
  override name = 'UserError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Wrong command-line usage: exit code 2, like most Unix tools. */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message, 2);
  }
}
