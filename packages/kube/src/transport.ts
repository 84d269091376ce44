import { Agent, request as httpsRequest } from 'node:https';
import type { Logger } from '@herd/sys';
import { KubeError } from './errors.js';
import type { Kubeconfig } from './kubeconfig.js';

export interface RequestOptions {
  /** Body content type; JSON unless a patch type is given (merge-patch+json, strategic-merge-patch+json). */
  contentType?: string;
  signal?: AbortSignal;
}

/** What the API answered: status and the body text. */
export interface RawResponse {
  status: number;
  text: string;
}

/** The one thing every operation needs: send a request, get JSON back or a KubeError. */
export interface KubeRequester {
  request<T>(method: string, path: string, body?: unknown, options?: RequestOptions): Promise<T>;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * HTTPS with the kubeconfig's mutual-TLS material, one keep-alive agent per client, a
 * deadline on every request.
 */
export class Transport implements KubeRequester {
  private readonly agent: Agent;
  private readonly base: URL;

  constructor(config: Kubeconfig, private readonly timeoutMs: number, private readonly logger: Logger) {
    this.base = new URL(config.server);
    if (this.base.protocol !== 'https:') throw new Error(`Kubernetes API server must be https, got ${config.server}`);
    this.agent = new Agent({ ca: config.caPem, cert: config.certPem, key: config.keyPem, keepAlive: true });
  }

  async request<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, body, options);
    if (response.status < 200 || response.status > 299) throw toKubeError(method, path, response);
    if (response.text === '') return undefined as T;
    try {
      return JSON.parse(response.text) as T;
    } catch {
      throw new KubeError(`${method} ${path}: the API answered ${response.status} with a body that is not JSON`, response.status, 'InvalidResponse');
    }
  }

  /** Sends without judging the status (for /readyz and the like). */
  send(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<RawResponse> {
    const url = new URL(this.base.pathname.replace(/\/$/, '') + path, this.base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = payload.length;
    }
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
    const started = Date.now();
    return new Promise<RawResponse>((resolve, reject) => {
      const req = httpsRequest(url, { method, headers, agent: this.agent, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          this.logger.debug({ method, path, status, ms: Date.now() - started }, 'kubernetes request');
          resolve({ status, text: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.on('error', (e) => {
        // The caller's own abort passes through untouched; our deadline and network failures become KubeErrors.
        if (options.signal?.aborted) return reject(options.signal.reason);
        if (deadline.aborted) {
          return reject(new KubeError(`${method} ${path}: no answer from ${this.base.host} within ${this.timeoutMs} ms`, 0, 'Timeout'));
        }
        reject(new KubeError(`${method} ${path}: cannot reach ${this.base.host}: ${e.message}`, 0, 'Unreachable'));
      });
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

interface StatusObject {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: { message?: string }[] };
}

function toKubeError(method: string, path: string, response: RawResponse): KubeError {
  let status: StatusObject | undefined;
  try {
    status = JSON.parse(response.text) as StatusObject;
  } catch {
    // not a Status object: the text itself is the message
  }
  if (status?.kind === 'Status') {
    const causes = (status.details?.causes ?? []).map((c) => c.message ?? '').filter(Boolean);
    return new KubeError(`${method} ${path}: ${status.message ?? response.status}`, response.status, status.reason ?? 'Unknown', causes);
  }
  const text = response.text.trim().slice(0, 500);
  return new KubeError(`${method} ${path}: HTTP ${response.status}${text ? `: ${text}` : ''}`, response.status, 'Unknown');
}
