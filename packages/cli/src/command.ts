import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '@herd/sys';

type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** What a command gets: its parsed flags and positionals, and where to write. */
export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface CommandContext<V = OptionValues> {
  values: V;
  positionals: string[];
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface Command {
  name: string;
  /** One line for `herd help`. */
  summary: string;
  /** The synopsis, for example `herd validate [REPO] [--ref REF]`. */
  usage: string;
  options: OptionSpec;
  /** Returns the exit code. User errors are thrown as UserError. */
  run(ctx: CommandContext): Promise<number>;
  /** Every failure exits with this code instead (usage 2, internal 70): for a command whose other codes mean something, like plan's 2. */
  failureExitCode?: number;
}

export function defineCommand(command: Command): Command {
  return command;
}

/** Parses argv for a command; unknown flags are usage errors (exit 2). */
export function parseCommandArgs(command: Command, argv: string[]) {
  try {
    return parseArgs({ args: argv, options: command.options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\nusage: ${command.usage}`);
  }
}

/** `--output` shared by commands that print results. */
export const outputOption = { output: { type: 'string', short: 'o', default: 'text' } } as const;

export function outputFormat(value: unknown, allowed: readonly string[] = ['text', 'json']): string {
  const format = String(value ?? 'text');
  if (!allowed.includes(format)) throw new UsageError(`--output must be one of ${allowed.join(', ')}, got "${format}"`);
  return format;
}
