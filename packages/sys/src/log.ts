import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths pino censors in every herd log line. Secrets travel in fields with these names
 * (tokens, keys, certificates' private halves, passwords); keeping the list here means no
 * caller can forget it.
 */
export const REDACTED_PATHS: readonly string[] = [
  'token', '*.token', 'bootstrapToken', '*.bootstrapToken',
  'key', '*.key', 'privateKey', '*.privateKey', 'keyPem', '*.keyPem',
  'password', '*.password', 'secret', '*.secret', 'certificateKey', '*.certificateKey',
  'authorization', '*.authorization', 'headers.authorization',
];

export interface LoggerOptions {
  /** Component name, shown as `name` in every line (herd, herd-agent, coordinator...). */
  name: string;
  /** pino level; defaults to $HERD_LOG_LEVEL or `info`. */
  level?: string;
  /** Where lines go; defaults to stderr so stdout stays free for command output. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? process.env.HERD_LOG_LEVEL ?? 'info';
  return pino(
    { name: options.name, level, redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' } },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/** A logger that drops everything: for library calls and tests that assert on results, not logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
