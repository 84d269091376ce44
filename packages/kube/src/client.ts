import { silentLogger, systemClock, type Clock, type Logger } from '@herd/sys';
import { drain, previewDrain, type DrainOptions, type DrainPreview } from './drain.js';
import type { Kubeconfig } from './kubeconfig.js';
import { Leases } from './lease.js';
import { cordon, deleteNode, getNodeObject, listNodes, toKubeNode, uncordon, type KubeNode } from './nodes.js';
import { createBootstrapToken, type BootstrapTokenOptions } from './token.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, Transport, type KubeRequester, type RequestOptions } from './transport.js';

export interface KubeClientOptions {
  /** Deadline of each single request; default 30 s. */
  timeoutMs?: number;
  logger?: Logger;
  /** Drain deadlines, lease expiry and token expiration read this clock. */
  clock?: Clock;
}

/** What the coordinator does to a cluster through its API, with the admin credentials. */
export class KubeClient implements KubeRequester {
  readonly lease: Leases;
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(config: Kubeconfig, options: KubeClientOptions = {}) {
    this.logger = options.logger ?? silentLogger();
    this.clock = options.clock ?? systemClock;
    this.transport = new Transport(config, options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, this.logger);
    this.lease = new Leases(this.transport, this.clock);
  }

  /** Any API call: JSON in and out, a KubeError with the API's Status message on failure. */
  request<T>(method: string, path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.transport.request<T>(method, path, body, options);
  }

  /** The API server's gitVersion, e.g. v1.34.4. */
  async version(): Promise<string> {
    return (await this.request<{ gitVersion: string }>('GET', '/version')).gitVersion;
  }

  /** True when /readyz answers 200; false for any other answer or none. */
  async healthy(): Promise<boolean> {
    try {
      return (await this.transport.send('GET', '/readyz')).status === 200;
    } catch {
      return false;
    }
  }

  nodes(): Promise<KubeNode[]> {
    return listNodes(this.transport);
  }

  async node(name: string): Promise<KubeNode | undefined> {
    const o = await getNodeObject(this.transport, name);
    return o && toKubeNode(o);
  }

  /** Deletes the Node object; one already gone is fine. */
  deleteNode(name: string): Promise<void> {
    return deleteNode(this.transport, name);
  }

  cordon(name: string): Promise<void> {
    return cordon(this.transport, name);
  }

  uncordon(name: string): Promise<void> {
    return uncordon(this.transport, name);
  }

  drain(name: string, o: DrainOptions): Promise<void> {
    return drain(this.transport, name, o, this.clock, this.logger.child({ node: name }));
  }

  /** What draining the node would evict now and which budget would refuse it; evicts nothing. */
  previewDrain(name: string): Promise<DrainPreview> {
    return previewDrain(this.transport, name);
  }

  createBootstrapToken(o: BootstrapTokenOptions): Promise<string> {
    return createBootstrapToken(this.transport, o, this.clock.now());
  }

  /** Drops the kept-alive connections. */
  close(): void {
    this.transport.close();
  }
}
