import { createServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { Logger } from '@herd/sys';

/**
 * Bounds on what a client without a certificate can hold (docs/protocol.md, "Connection
 * limits"). Handshakes count for everyone: the certificate is known only after one.
 */
export interface ConnectionLimits {
  /** TLS handshakes in progress at once, over all clients. Default 256. */
  maxHandshakes?: number;
  /** TLS handshakes in progress at once from one address. Default 32. */
  maxHandshakesPerAddress?: number;
  /** A handshake not done by then is dropped. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Open connections without a client certificate, over all clients. Default 512. */
  maxUnauthenticated?: number;
  /** Open connections without a client certificate from one address. Default 16. */
  maxUnauthenticatedPerAddress?: number;
  /** A connection without a client certificate is closed this long after its handshake, busy or not. Default 60 s. */
  unauthenticatedLifetimeMs?: number;
}

/** Counters for logs and tests: what the front door holds and what it turned away. */
export interface ConnectionStats {
  handshaking: number;
  unauthenticated: number;
  authenticated: number;
  /** Refused at once because a bound was reached. */
  refused: number;
  /** Handshakes that failed or timed out. */
  failedHandshakes: number;
  /** Unauthenticated connections closed at the end of their lifetime. */
  expired: number;
}

export interface FrontDoorOptions extends ConnectionLimits {
  keyPem: string;
  /** The serving certificate followed by the CA: an enrolling agent pins the CA from this chain. */
  chainPem: string;
  caPem: string;
  logger: Logger;
  /** Connections whose client certificate verified against the CA. */
  authenticated(socket: TLSSocket): void;
  /** Connections without one (enrollment, or refusals of the other services). */
  unauthenticated(socket: TLSSocket): void;
}

export interface FrontDoor {
  readonly server: TlsServer;
  stats(): ConnectionStats;
  close(): void;
}

class Counter {
  private readonly byAddress = new Map<string, number>();
  total = 0;
  constructor(private readonly max: number, private readonly maxPerAddress: number) {}
  /** Takes a slot for `address`, or returns false when a bound is reached. */
  take(address: string): boolean {
    const held = this.byAddress.get(address) ?? 0;
    if (this.total >= this.max || held >= this.maxPerAddress) return false;
    this.byAddress.set(address, held + 1);
    this.total++;
    return true;
  }
  give(address: string): void {
    const held = (this.byAddress.get(address) ?? 1) - 1;
    if (held > 0) this.byAddress.set(address, held);
    else this.byAddress.delete(address);
    this.total--;
  }
}

/**
 * The coordinator's TLS listener. grpc-js can neither bound connections nor give one
 * method a smaller message limit, so TLS is ended here: a handshake slot is taken per
 * TCP connection, and after the handshake the connection goes to one of two gRPC servers
 * by whether its client certificate verified. Connections without one get their own
 * bounds and lifetime, and a server with a small message limit.
 */
export function startFrontDoor(options: FrontDoorOptions): FrontDoor {
  const handshakes = new Counter(options.maxHandshakes ?? 256, options.maxHandshakesPerAddress ?? 32);
  const unauthenticated = new Counter(options.maxUnauthenticated ?? 512, options.maxUnauthenticatedPerAddress ?? 16);
  const lifetimeMs = options.unauthenticatedLifetimeMs ?? 60_000;
  const counts = { authenticated: 0, refused: 0, failedHandshakes: 0, expired: 0 };
  const sockets = new Set<Socket>();
  const pending = new Map<string, () => void>();
  let lastWarning = 0;
  const warn = (bound: string, address: string) => {
    counts.refused++;
    // One line per 10 s at most: a flood must not become a flood of log lines.
    if (Date.now() - lastWarning < 10_000) return;
    lastWarning = Date.now();
    options.logger.warn({ bound, address, refused: counts.refused }, 'connection refused: a connection bound was reached');
  };
  const keyOf = (s: Socket) => `${s.remoteAddress}:${s.remotePort}`;

  const server = createServer({
    key: options.keyPem, cert: options.chainPem, ca: options.caPem,
    requestCert: true, rejectUnauthorized: false, ALPNProtocols: ['h2'], minVersion: 'TLSv1.2',
    handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
  });
  server.on('connection', (raw: Socket) => {
    const address = raw.remoteAddress ?? 'unknown';
    if (!handshakes.take(address)) {
      warn('handshakes', address);
      raw.destroy();
      return;
    }
    sockets.add(raw);
    let released = false;
    const release = () => { if (!released) { released = true; handshakes.give(address); pending.delete(key); } };
    const key = keyOf(raw);
    pending.set(key, release);
    raw.once('close', () => { sockets.delete(raw); release(); });
  });
  server.on('tlsClientError', (_error, socket) => {
    counts.failedHandshakes++;
    pending.get(keyOf(socket))?.();
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    pending.get(keyOf(socket))?.();
    socket.on('error', () => {}); // the gRPC server sees the close; a reset is not ours to log
    if (socket.authorized) {
      counts.authenticated++;
      socket.once('close', () => counts.authenticated--);
      options.authenticated(socket);
      return;
    }
    const address = socket.remoteAddress ?? 'unknown';
    if (!unauthenticated.take(address)) {
      warn('unauthenticated', address);
      socket.destroy();
      return;
    }
    const timer = setTimeout(() => { counts.expired++; socket.destroy(); }, lifetimeMs);
    socket.once('close', () => { clearTimeout(timer); unauthenticated.give(address); });
    options.unauthenticated(socket);
  });

  return {
    server,
    stats: () => ({ handshaking: handshakes.total, unauthenticated: unauthenticated.total, ...counts }),
    close() {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}
