// The agent on test machines the way the install path puts it there: the artifact from
// scripts/build-agent.mjs, a real coordinator on the world's bridge, install-agent.sh run
// inside the machine.
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createExecutor, createLogger, nodeFileSystem, type ExecResult } from '@herd/sys';
import { directoryStore, startCoordinator, type Coordinator, type NodeRef } from '@herd/coordinator';
import type { AfterHook, Machine, TestWorld } from './index.js';

const root = resolve(import.meta.dirname, '../..');
/** Where install-agent.sh and the artifact sit inside a machine. */
export const ARTIFACT_IN_MACHINE = '/root/herd-agent';

/** Builds the agent artifact into a temporary directory (removed after the test). */
export async function buildAgentArtifact(hook: AfterHook): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'herd-artifact-'));
  hook.after(() => rm(dir, { recursive: true, force: true }));
  const artifact = join(dir, 'herd-agent');
  await createExecutor().run(process.execPath, [join(root, 'scripts/build-agent.mjs'), artifact], { cwd: root });
  return artifact;
}

/** A coordinator listening on the bridge's host address, where the world's machines reach it. */
export async function startBridgeCoordinator(hook: AfterHook, world: TestWorld): Promise<Coordinator & { address: string }> {
  const coordinator = await startCoordinator({
    store: directoryStore(join(world.dir, 'coordinator'), nodeFileSystem()),
    host: world.bridge.hostAddress, port: 0,
    logger: createLogger({ name: 'coordinator', level: process.env.HERD_LOG_LEVEL ?? 'warn' }),
  });
  hook.after(() => coordinator.close());
  return Object.assign(coordinator, { address: `${world.bridge.hostAddress}:${coordinator.port}` });
}

/** Copies the artifact into the machine (as the local provider will). */
export async function copyArtifact(machine: Machine, artifact: string): Promise<void> {
  await cp(artifact, join(machine.rootfs, ARTIFACT_IN_MACHINE), { recursive: true });
}

export function runInstall(machine: Machine, args: readonly string[], options: { allowFailure?: boolean } = {}): Promise<ExecResult> {
  return machine.exec.run('bash', [`${ARTIFACT_IN_MACHINE}/install-agent.sh`, ...args], options);
}

/** Where installFlags puts the token inside a machine (as a provider does, root-only, before install-agent.sh runs). */
export const TOKEN_SOURCE_IN_MACHINE = '/root/herd-install.token';

/**
 * Install flags for `machine` with a fresh single-use token for node `ref.node` of
 * `ref.cluster`, written to a 0600 file in the machine: the token is never an argument.
 */
export async function installFlags(coordinator: Coordinator & { address: string }, ref: NodeRef, machine: Machine): Promise<string[]> {
  const { token } = await coordinator.tokens.create({ ...ref, ttlMs: 10 * 60_000 });
  await writeFile(join(machine.rootfs, TOKEN_SOURCE_IN_MACHINE), `${token}\n`, { mode: 0o600 });
  return ['--coordinator', coordinator.address, '--ca-hash', coordinator.caHash, '--token-file', TOKEN_SOURCE_IN_MACHINE, '--node', ref.node];
}
