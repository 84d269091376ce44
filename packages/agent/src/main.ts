#!/usr/bin/env node
// herd-agent: enrolls once, then holds a stream to the coordinator and converges this machine.
import { parseArgs } from 'node:util';
import { createEngine } from '@herd/converge';
import { CA_HASH_PATTERN, isValidName } from '@herd/pki/names';
import { parseHostPort } from '@herd/proto';
import {
  createExecutor, createLogger, nodeFileSystem, parseDuration, serveMetrics, systemClock, UsageError, UserError, type FileSystem, type Logger,
} from '@herd/sys';
import { Agent, AGENT_VERSION } from './agent.js';
import { enroll } from './enroll.js';
import { httpsEtcdGateway } from './etcd-gateway.js';
import { readFacts } from './facts.js';
import { AgentState } from './state.js';
import { AgentMetrics } from './metrics.js';

const USAGE = `usage: herd-agent --coordinator HOST:PORT --token-file PATH --ca-hash sha256:HEX --state DIR
                  [--node NAME] [--interval 30s] [--heartbeat 10s] [--metrics 127.0.0.1:9478|off] [--dry-run]
  The first run enrolls with the token in --token-file (then deletes the file) and --ca-hash;
  later runs only need --state.`;

const OPTIONS = {
  coordinator: { type: 'string' },
  // A file, not the token itself: a command line is readable by every local user (ps, /proc).
  'token-file': { type: 'string' },
  'ca-hash': { type: 'string' },
  state: { type: 'string', default: '/var/lib/herd-agent' },
  node: { type: 'string' },
  interval: { type: 'string', default: '30s' },
  heartbeat: { type: 'string', default: '10s' },
  metrics: { type: 'string', default: '127.0.0.1:9478' },
  'dry-run': { type: 'boolean', default: false },
  version: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function duration(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (!ms) throw new UsageError(`--${flag} must be a duration such as 30s or 5m, got "${text}"\n${USAGE}`);
  return ms;
}

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
}

/** Ends the agent on SIGTERM/SIGINT: the first signal stops cleanly, a second exits 1 at once. */
function stopOnSignals(logger: Logger): AbortSignal {
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'stopping: finishing the round in progress and closing the stream');
    stop.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return stop.signal;
}

/** The bootstrap token from its file: one line, the shape checked by the coordinator. */
async function readTokenFile(fs: FileSystem, path: string): Promise<string> {
  const text = await fs.read(path);
  if (text === undefined) {
    throw new UserError(`--token-file ${path}: no such file (the token is deleted after enrollment; make a new one with herd token create)`);
  }
  const token = text.trim();
  if (!token || token.length > 256 || /\s/.test(token)) throw new UserError(`--token-file ${path}: want one line holding the token`);
  return token;
}

export async function main(argv: string[]): Promise<number> {
  const flags = parse(argv);
  if (flags.help) { process.stdout.write(`${USAGE}\n`); return 0; }
  if (flags.version) { process.stdout.write(`herd-agent ${AGENT_VERSION}\n`); return 0; }
  const intervalMs = duration('interval', flags.interval);
  const heartbeatMs = duration('heartbeat', flags.heartbeat);
  if (flags.coordinator && !parseHostPort(flags.coordinator)?.port) throw new UsageError(`--coordinator must be HOST:PORT, got "${flags.coordinator}"\n${USAGE}`);
  if (flags['ca-hash'] && !CA_HASH_PATTERN.test(flags['ca-hash'])) throw new UsageError(`--ca-hash must be sha256: and 64 hex digits\n${USAGE}`);
  const metricsAt = flags.metrics === 'off' ? undefined : parseHostPort(flags.metrics);
  if (flags.metrics !== 'off' && !metricsAt) throw new UsageError(`--metrics must be HOST:PORT or off, got "${flags.metrics}"\n${USAGE}`);
  if (flags.node && !isValidName(flags.node)) throw new UsageError(`--node must be a lower-case DNS label, got "${flags.node}"`);

  const logger = createLogger({ name: 'herd-agent' });
  const fs = nodeFileSystem();
  const state = new AgentState(fs, flags.state);
  const signal = stopOnSignals(logger);
  const tokenFile = flags['token-file'];
  // Facts take a few hundred ms (systeminformation runs commands); read them while enrolling,
  // not after it, before the first Hello. A failure surfaces where the agent awaits them.
  const facts = readFacts();
  facts.catch(() => {});
  let creds = await state.credentials();
  if (creds) {
    // Left behind only if the agent stopped between saving its credentials and deleting it.
    if (tokenFile && await fs.stat(tokenFile)) {
      await fs.remove(tokenFile);
      logger.info({ node: creds.node, cluster: creds.cluster, tokenFile }, 'already enrolled; the token file was not used and is deleted');
    }
  } else {
    if (!flags.coordinator || !tokenFile || !flags['ca-hash']) {
      throw new UsageError(`${flags.state} holds no credentials yet: the first run needs --coordinator, --token-file and --ca-hash\n${USAGE}`);
    }
    creds = await enroll({ coordinator: flags.coordinator, token: await readTokenFile(fs, tokenFile), caHash: flags['ca-hash'], node: flags.node });
    await state.saveCredentials(creds);
    // Single-use and spent: nothing on the machine needs it any more.
    await fs.remove(tokenFile);
    logger.info({ node: creds.node, cluster: creds.cluster, tokenFile }, 'enrolled; the token file is deleted');
  }

  const clock = systemClock;
  const engine = createEngine({ executor: createExecutor({ logger }), fs, logger, clock });
  const metrics = new AgentMetrics();
  // A dry run beside the running service must not fight it for the metrics port.
  const served = metricsAt && !flags['dry-run'] ? await serveMetrics(metrics.registry, metricsAt.host, metricsAt.port, logger) : undefined;
  // Operations get an executor without a logger: their commands' arguments may hold a
  // certificate key, and the runner logs kind, id, outcome and duration instead.
  const operations = { exec: createExecutor(), fs, etcd: httpsEtcdGateway(fs) };
  const agent = new Agent({
    credentials: creds, state, engine, logger, clock, facts: () => facts, intervalMs, heartbeatMs, metrics, operations,
    dryRun: flags['dry-run'], ...(flags.coordinator ? { coordinator: flags.coordinator } : {}),
  });
  await agent.run(signal);
  await served?.close();
  logger.info('stopped');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    if (error instanceof UserError) {
      process.stderr.write(`herd-agent: ${error.message}\n`);
      process.exitCode = error.exitCode;
    } else {
      process.stderr.write(`herd-agent: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exitCode = 70;
    }
  },
);
