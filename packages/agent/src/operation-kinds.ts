// What each operation kind does on the node (docs/agent-operations.md). Commands and files
// go through the injected Executor and FileSystem, so every kind is tested with fakes.
import type { Clock, Executor, FileSystem, Logger } from '@herd/sys';
import { listMembers, removeMember, type EtcdGateway } from './etcd-gateway.js';

/** The node as operations see it. */
export interface OperationEnvironment {
  exec: Executor;
  fs: FileSystem;
  etcd: EtcdGateway;
}

export interface OperationContext extends OperationEnvironment {
  logger: Logger;
  clock: Clock;
}

export interface OperationDone {
  message: string;
  outputs?: Record<string, string>;
  /** Runs after the result is persisted and sent (a reboot must not take the result down with it). */
  afterSent?: () => Promise<void>;
}

export type OperationHandler = (args: Readonly<Record<string, string>>, ctx: OperationContext) => Promise<OperationDone>;

/** An operation's arguments are wrong: the coordinator's bug, answered ok=false without running anything. */
export class OperationArgumentError extends Error {
  override readonly name = 'OperationArgumentError';
}

export const KUBEADM_CONFIG_DIR = '/etc/herd/kubeadm';
export const ADMIN_KUBECONFIG = '/etc/kubernetes/admin.conf';
export const KUBELET_KUBECONFIG = '/etc/kubernetes/kubelet.conf';
/** kubeadm init, join and upgrade pull images and wait for static pods. */
export const LONG_TIMEOUT_MS = 20 * 60_000;
export const SHORT_TIMEOUT_MS = 2 * 60_000;
/** Time for the result to leave the machine before it goes down. */
export const REBOOT_DELAY_MS = 1_000;

function required(args: Readonly<Record<string, string>>, name: string, kind: string): string {
  const value = args[name];
  if (!value) throw new OperationArgumentError(`${kind} needs the argument ${name}`);
  return value;
}

/** Writes a kubeadm configuration (0600: it may hold a token) and has kubeadm validate it before use. */
async function kubeadmConfig(ctx: OperationContext, name: string, text: string): Promise<string> {
  const path = `${KUBEADM_CONFIG_DIR}/${name}.yaml`;
  await ctx.fs.mkdirp(KUBEADM_CONFIG_DIR, 0o700);
  await ctx.fs.writeAtomic(path, text, { mode: 0o600 });
  await ctx.exec.run('kubeadm', ['config', 'validate', '--config', path], { timeoutMs: SHORT_TIMEOUT_MS });
  return path;
}

async function exists(ctx: OperationContext, path: string): Promise<boolean> {
  return (await ctx.fs.stat(path)) !== undefined;
}

async function adminKubeconfig(ctx: OperationContext): Promise<Record<string, string>> {
  const kubeconfig = await ctx.fs.read(ADMIN_KUBECONFIG);
  if (!kubeconfig) throw new Error(`${ADMIN_KUBECONFIG} is missing after kubeadm init`);
  return { kubeconfig };
}

export const OPERATION_KINDS: Readonly<Record<string, OperationHandler>> = {
  async 'kubeadm-init'(args, ctx) {
    const config = required(args, 'config', 'kubeadm-init');
    if (await exists(ctx, ADMIN_KUBECONFIG)) return { message: 'already initialized', outputs: await adminKubeconfig(ctx) };
    const path = await kubeadmConfig(ctx, 'init', config);
    await ctx.exec.run('kubeadm', ['init', '--config', path, '--upload-certs'], { timeoutMs: LONG_TIMEOUT_MS });
    return { message: 'initialized', outputs: await adminKubeconfig(ctx) };
  },

  async 'kubeadm-join'(args, ctx) {
    const config = required(args, 'config', 'kubeadm-join');
    if (await exists(ctx, KUBELET_KUBECONFIG)) return { message: 'already joined' };
    const path = await kubeadmConfig(ctx, 'join', config);
    await ctx.exec.run('kubeadm', ['join', '--config', path], { timeoutMs: LONG_TIMEOUT_MS });
    return { message: 'joined' };
  },

  async 'kubeadm-upload-certs'(args, ctx) {
    // An InitConfiguration for this node carrying the certificate key: without one kubeadm
    // looks for the node's address on a default route, which machines behind a bridge lack.
    const path = await kubeadmConfig(ctx, 'upload-certs', required(args, 'config', 'kubeadm-upload-certs'));
    await ctx.exec.run('kubeadm', ['init', 'phase', 'upload-certs', '--upload-certs', '--config', path], { timeoutMs: SHORT_TIMEOUT_MS });
    return { message: 'certificates uploaded' };
  },

  async 'kubeadm-upgrade'(args, ctx) {
    const mode = required(args, 'mode', 'kubeadm-upgrade');
    if (mode !== 'apply' && mode !== 'node') throw new OperationArgumentError(`kubeadm-upgrade: mode must be "apply" or "node", got "${mode}"`);
    const path = await kubeadmConfig(ctx, 'upgrade', required(args, 'config', 'kubeadm-upgrade'));
    const command = mode === 'apply' ? ['upgrade', 'apply', '--config', path, '--yes'] : ['upgrade', 'node', '--config', path];
    await ctx.exec.run('kubeadm', command, { timeoutMs: LONG_TIMEOUT_MS });
    return { message: `kubeadm upgrade ${mode} done` };
  },

  async 'restart-kubelet'(_args, ctx) {
    await ctx.exec.run('systemctl', ['daemon-reload'], { timeoutMs: SHORT_TIMEOUT_MS });
    await ctx.exec.run('systemctl', ['restart', 'kubelet'], { timeoutMs: SHORT_TIMEOUT_MS });
    return { message: 'kubelet restarted' };
  },

  async 'kubeadm-reset'(_args, ctx) {
    const wasMember = await exists(ctx, '/etc/kubernetes');
    if (wasMember) await ctx.exec.run('kubeadm', ['reset', '--force'], { timeoutMs: SHORT_TIMEOUT_MS });
    await ctx.fs.remove(KUBEADM_CONFIG_DIR);
    return { message: wasMember ? 'reset' : 'nothing to reset' };
  },

  async 'etcd-members'(_args, ctx) {
    const members = await listMembers(ctx.etcd);
    return { message: `${members.length} members`, outputs: { members: JSON.stringify(members) } };
  },

  async 'etcd-member-remove'(args, ctx) {
    const name = required(args, 'name', 'etcd-member-remove');
    const member = (await listMembers(ctx.etcd)).find((m) => m.name === name);
    if (!member) return { message: 'not a member' };
    await removeMember(ctx.etcd, member.id);
    return { message: `member ${name} (${member.id}) removed` };
  },

  async reboot(_args, ctx) {
    return {
      message: 'rebooting',
      afterSent: async () => {
        await ctx.clock.sleep(REBOOT_DELAY_MS);
        await ctx.exec.run('systemctl', ['reboot'], { timeoutMs: SHORT_TIMEOUT_MS });
      },
    };
  },
};
