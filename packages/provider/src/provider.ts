import type { MachineShape, ProviderSpec } from '@herd/api';
import type { Platform } from '@herd/kubeadm';
import type { AptSource } from '@herd/proto';
import type { Logger } from '@herd/sys';

/** A machine as its provider knows it. The labels are herd's only record of what it is for. */
export interface Machine {
  name: string;
  labels: Record<string, string>;
  /** Addresses the coordinator and other machines reach it on, first the preferred one. */
  addresses: string[];
  state: 'running' | 'stopped' | 'unknown';
  /** ISO 8601. */
  createdAt: string;
}

export interface MachineRequest {
  /** From `newMachineName`; creating the same name twice gives one machine. */
  name: string;
  labels: Record<string, string>;
  shape: MachineShape;
}

/** What the one install path (scripts/install-agent.sh) needs to put an enrolling agent on a machine. */
export interface AgentInstall {
  /** Directory with the agent artifact and install-agent.sh (scripts/build-agent.mjs output). */
  artifactDir: string;
  /** HOST:PORT the agent dials, as seen from the machine. */
  coordinator: string;
  /** Single-use bootstrap token. Secret: never logged. */
  token: string;
  /** `sha256:HEX` of the coordinator CA's public key. */
  caHash: string;
}

/**
 * One interface for every provider. Every method is idempotent, so a coordinator that
 * crashed mid-way simply calls it again; inventory always comes from `list`, never from
 * a local file, so a coordinator that lost its state adopts what exists.
 */
export interface Provider {
  readonly kind: string;
  /** Machines whose labels include every pair of `selector`. */
  list(selector: Record<string, string>): Promise<Machine[]>;
  /**
   * A name for a new machine of `pool`, not in `taken` (every machine listed, and those
   * planned in this round). Providers with a fixed inventory pick a free machine, or throw
   * QuotaExceededError when none is left.
   */
  newMachineName(cluster: string, pool: string, taken: ReadonlySet<string>): string;
  /** Creates the machine, or returns it when it already exists. */
  create(request: MachineRequest): Promise<Machine>;
  /** Deletes (or, for machines herd does not own, releases) the machine; absent is fine. */
  delete(name: string): Promise<void>;
  /** Installs and starts the agent through scripts/install-agent.sh. Running it again changes nothing. */
  installAgent(name: string, install: AgentInstall): Promise<void>;
  /** The address on which this provider's machines reach the coordinator (the coordinator listens there too). */
  coordinatorHost(): Promise<string>;
  /** Package sources the provider serves its machines (for machines without internet); none by default. */
  aptSources?(): Promise<AptSource[]>;
  /** What a provider's machines need to run Kubernetes; absent = a plain VM with a registry and pkgs.k8s.io in reach. */
  kubernetes?: {
    platform(): Platform;
    /**
     * Makes the version's packages (kubeadm, kubelet, kubectl, images, runtime) installable from
     * aptSources(); idempotent. An aborted `signal` stops it early (a build is ended), rejecting.
     */
    prepare(version: string, progress?: (message: string) => void, signal?: AbortSignal): Promise<void>;
    /** An address on the machines' network no machine gets, for the control-plane virtual IP; stable per cluster. */
    virtualAddress(): Promise<string>;
    /** The machines' network interface (keepalived binds the VIP there). */
    readonly interface: string;
  };
  /** Releases what the provider holds in this process (servers, connections); machines stay. */
  close(): Promise<void>;
}

export interface ProviderContext {
  cluster: string;
  /** A directory the provider may keep its own records in (pinned host keys, ...). */
  stateDir: string;
  /** Reads a file of the repository at the commit in force (SSH keys of static machines). */
  readRepositoryFile(path: string): Promise<string>;
  logger: Logger;
}

export type ProviderFactory = (spec: ProviderSpec, context: ProviderContext) => Promise<Provider>;
