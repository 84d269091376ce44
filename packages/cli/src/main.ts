#!/usr/bin/env node
import { UserError, UsageError } from '@herd/sys';
import { commands } from './commands/index.js';
import { parseCommandArgs, type Command } from './command.js';

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'herd: Kubernetes clusters as cattle, declared in Git.',
    '',
    'Usage: herd COMMAND [ARGS]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `herd COMMAND --help` for a command\'s flags.',
  ].join('\n');
}

/** The command being run, for its failure exit code. */
let running: Command | undefined;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(help() + '\n');
    return name ? 0 : 2;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command "${name}"\n\n${help()}`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.summary}\n\nusage: ${command.usage}\n`);
    return 0;
  }
  running = command;
  const { values, positionals } = parseCommandArgs(command, rest);
  return command.run({ values, positionals, stdout: process.stdout, stderr: process.stderr });
}

main(process.argv.slice(2)).then(
  // Exit as soon as the command is done: a gRPC server can hold sockets of agents that are
  // still reconnecting past its forced shutdown, and the command's work is finished.
  (code) => { process.stdout.write('', () => process.exit(code)); },
  (error: unknown) => {
    if (error instanceof UserError) {
      process.stderr.write(`herd: ${error.message}\n`);
      process.exitCode = running?.failureExitCode ?? error.exitCode;
    } else {
      const e = error as Error;
      process.stderr.write(`herd: internal error: ${e?.message ?? String(error)}\n`);
      if (process.env.HERD_DEBUG) process.stderr.write(`${e?.stack}\n`);
      else process.stderr.write('(set HERD_DEBUG=1 to see the stack trace)\n');
      process.exitCode = running?.failureExitCode ?? 70;
    }
  },
);
