// What each operation kind does on the node (docs/agent-operations.md); kinds, arguments,
// outputs and timeouts are @herd/proto's OPERATIONS. Commands and files
// go through the injected Executor and FileSystem, so every kind is tested with fakes.
import { OPERATIONS, type OperationArgs, type OperationKind, type OperationOutputs } from '@herd/proto';
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
  /** What is left of the kind's timeout in OPERATIONS: every command runs within it. */
  budget: Budget;
}

export interface OperationDone<Outputs = Record<string, never>> {
  message: string;
  outputs: Outputs;
  /** Runs after the result is persisted and sent (a reboot must not take the result down with it). */
  afterSent?: () => Promise<void>;
}

/** What a kind does with its decoded arguments. */
export type OperationHandler<K extends OperationKind> = (args: OperationArgs<K>, ctx: OperationContext) => Promise<OperationDone<OperationOutputs<K>>>;

export type OperationHandlers = { readonly [K in OperationKind]: OperationHandler<K> };

/** The milliseconds a command may take now: what is left of the operation's timeout, at most `capMs`. */
export type Budget = (capMs?: number) => number;

export const KUBEADM_CONFIG_DIR = '/etc/herd/kubeadm';
export const ADMIN_KUBECONFIG = '/etc/kubernetes/admin.conf';
export const KUBELET_KUBECONFIG = '/etc/kubernetes/kubelet.conf';
/** `kubeadm config validate` answers in seconds; it gets no more than this of a kind's timeout. */
export const VALIDATE_TIMEOUT_MS = 2 * 60_000;
/** Time for the result to leave the machine before it goes down. */
export const REBOOT_DELAY_MS = 1_000;

/** A budget counted from now on `clock`: a command that would start after the timeout fails instead. */
export function operationBudget(kind: OperationKind, clock: Clock): Budget {
  const deadline = clock.now() + OPERATIONS[kind].timeoutMs;
  return (capMs = Infinity) => {
    const left = deadline - clock.now();
    if (left <= 0) throw new Error(`${kind} ran out of its ${OPERATIONS[kind].timeoutMs / 1000} s`);
    return Math.min(capMs, left);
  };
}

/** Writes a kubeadm configuration (0600: it may hold a token) and has kubeadm validate it before use. */
async function kubeadmConfig(ctx: OperationContext, name: string, text: string): Promise<string> {
  const path = `${KUBEADM_CONFIG_DIR}/${name}.yaml`;
  await ctx.fs.mkdirp(KUBEADM_CONFIG_DIR, 0o700);
  await ctx.fs.writeAtomic(path, text, { mode: 0o600 });
  await ctx.exec.run('kubeadm', ['config', 'validate', '--config', path], { timeoutMs: ctx.budget(VALIDATE_TIMEOUT_MS) });
  return path;
}

async function exists(ctx: OperationContext, path: string): Promise<boolean> {
  return (await ctx.fs.stat(path)) !== undefined;
}

async function adminKubeconfig(ctx: OperationContext): Promise<{ kubeconfig: string }> {
  const kubeconfig = await ctx.fs.read(ADMIN_KUBECONFIG);
  if (!kubeconfig) throw new Error(`${ADMIN_KUBECONFIG} is missing after kubeadm init`);
  return { kubeconfig };
}

export const OPERATION_KINDS: OperationHandlers = {
  async 'kubeadm-init'(args, ctx) {
    if (await exists(ctx, ADMIN_KUBECONFIG)) return { message: 'already initialized', outputs: await adminKubeconfig(ctx) };
    const path = await kubeadmConfig(ctx, 'init', args.config);
    await ctx.exec.run('kubeadm', ['init', '--config', path, '--upload-certs'], { timeoutMs: ctx.budget() });
    return { message: 'initialized', outputs: await adminKubeconfig(ctx) };
  },

  async 'kubeadm-join'(args, ctx) {
    if (await exists(ctx, KUBELET_KUBECONFIG)) return { message: 'already joined', outputs: {} };
    const path = await kubeadmConfig(ctx, 'join', args.config);
    await ctx.exec.run('kubeadm', ['join', '--config', path], { timeoutMs: ctx.budget() });
    return { message: 'joined', outputs: {} };
  },

  async 'kubeadm-upload-certs'(args, ctx) {
    // An InitConfiguration for this node carrying the certificate key: without one kubeadm
    // looks for the node's address on a default route, which machines behind a bridge lack.
    const path = await kubeadmConfig(ctx, 'upload-certs', args.config);
    await ctx.exec.run('kubeadm', ['init', 'phase', 'upload-certs', '--upload-certs', '--config', path], { timeoutMs: ctx.budget() });
    return { message: 'certificates uploaded', outputs: {} };
  },

  async 'kubeadm-upgrade'(args, ctx) {
    const { mode } = args;
    const path = await kubeadmConfig(ctx, 'upgrade', args.config);
    const command = mode === 'apply' ? ['upgrade', 'apply', '--config', path, '--yes'] : ['upgrade', 'node', '--config', path];
    await ctx.exec.run('kubeadm', command, { timeoutMs: ctx.budget() });
    return { message: `kubeadm upgrade ${mode} done`, outputs: {} };
  },

  async 'restart-kubelet'(_args, ctx) {
    await ctx.exec.run('systemctl', ['daemon-reload'], { timeoutMs: ctx.budget() });
    await ctx.exec.run('systemctl', ['restart', 'kubelet'], { timeoutMs: ctx.budget() });
    return { message: 'kubelet restarted', outputs: {} };
  },

  async 'kubeadm-reset'(_args, ctx) {
    const wasMember = await exists(ctx, '/etc/kubernetes');
    if (wasMember) await ctx.exec.run('kubeadm', ['reset', '--force'], { timeoutMs: ctx.budget() });
    await ctx.fs.remove(KUBEADM_CONFIG_DIR);
    return { message: wasMember ? 'reset' : 'nothing to reset', outputs: {} };
  },

  async 'etcd-members'(_args, ctx) {
    const members = await listMembers(ctx.etcd);
    return { message: `${members.length} members`, outputs: { members } };
  },

  async 'etcd-member-remove'(args, ctx) {
    const { name } = args;
    const member = (await listMembers(ctx.etcd)).find((m) => m.name === name);
    if (!member) return { message: 'not a member', outputs: {} };
    await removeMember(ctx.etcd, member.id);
    return { message: `member ${name} (${member.id}) removed`, outputs: {} };
  },

  async reboot(_args, ctx) {
    return {
      message: 'rebooting',
      outputs: {},
      afterSent: async () => {
        await ctx.clock.sleep(REBOOT_DELAY_MS);
        await ctx.exec.run('systemctl', ['reboot'], { timeoutMs: ctx.budget() });
      },
    };
  },
};
