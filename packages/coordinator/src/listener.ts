import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
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
  /**
   * Connections accepted while every handshake slot is taken wait for one, in arrival order,
   * instead of being refused: a fleet reconnecting at once (after a coordinator restart, or
   * thousands of agents behind one NAT address) would otherwise be turned away in every
   * synchronized retry. Over all clients. Default 4096.
   */
  maxWaiting?: number;
  /** A handshake not done this long after it began is dropped; so is a connection that waited this long for a slot. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Open connections without a client certificate, over all clients. Default 512. */
  maxUnauthenticated?: number;
  /** Open connections without a client certificate from one address. Default 16. */
  maxUnauthenticatedPerAddress?: number;
  /** A connection without a client certificate that sent nothing for this long is closed. Default 10 s (an agent's Enroll deadline). */
  unauthenticatedIdleMs?: number;
  /** A connection without a client certificate is closed this long after its handshake, busy or not. Default 60 s. */
  unauthenticatedLifetimeMs?: number;
}

/** Counters for logs and tests: what the front door holds and what it turned away. */
export interface ConnectionStats {
  handshaking: number;
  /** Accepted, waiting for a handshake slot. */
  waiting: number;
  unauthenticated: number;
  authenticated: number;
  /** Refused at once because a bound was reached. */
  refused: number;
  /** Handshakes that failed or timed out. */
  failedHandshakes: number;
  /** Unauthenticated connections closed when idle or at the end of their lifetime. */
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
  /** The listening TCP server: TLS starts on a connection once it has a handshake slot. */
  readonly server: TcpServer;
  stats(): ConnectionStats;
  close(): void;
}

class Counter {
  private readonly byAddress = new Map<string, number>();
  total = 0;
  constructor(private readonly max: number, private readonly maxPerAddress: number) {}
  held(address: string): number {
    return this.byAddress.get(address) ?? 0;
  }
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
  const maxWaiting = options.maxWaiting ?? 4096;
  /** Accepted connections, paused (nothing read), waiting for a handshake slot; oldest first. */
  const waiting: { raw: Socket; address: string; since: number }[] = [];
  const unauthenticated = new Counter(options.maxUnauthenticated ?? 512, options.maxUnauthenticatedPerAddress ?? 16);
  const handshakeMs = options.handshakeTimeoutMs ?? 10_000;
  const idleMs = options.unauthenticatedIdleMs ?? 10_000;
  const lifetimeMs = options.unauthenticatedLifetimeMs ?? 60_000;
  const counts = { authenticated: 0, refused: 0, failedHandshakes: 0, expired: 0 };
  /** Connections under a timer: in their handshake (by address:port), or without a certificate. */
  const watched = new Map<string, Watched>();
  const secured = new Set<TLSSocket>();
  let lastWarning = 0;
  const refuse = (bound: string, address: string, socket: Socket) => {
    counts.refused++;
    socket.destroy();
    // One line per 10 s at most: a flood must not become a flood of log lines.
    if (Date.now() - lastWarning < 10_000) return;
    lastWarning = Date.now();
    options.logger.warn({ bound, address, refused: counts.refused }, 'connection refused: a connection bound was reached');
  };
  const keyOf = (s: Socket) => `${s.remoteAddress}:${s.remotePort}`;
  /** Ends a connection's handshake phase (once): its handshake slot is free again. */
  const handshakeOver = (key: string) => {
    const entry = watched.get(key);
    if (entry?.phase !== 'handshake') return undefined;
    watched.delete(key);
    handshakes.give(entry.address);
    admitWaiting();
    return entry;
  };

  const tls = createServer({
    key: options.keyPem, cert: options.chainPem, ca: options.caPem,
    requestCert: true, rejectUnauthorized: false, ALPNProtocols: ['h2'], minVersion: 'TLSv1.2',
    handshakeTimeout: handshakeMs,
  });
  // The raw socket hands its handle to a TLSSocket at once (its own close event fires then):
  // from here on connections are followed by address and port until their handshake ends.
  const startHandshake = (raw: Socket, address: string) => {
    watched.set(keyOf(raw), { phase: 'handshake', since: Date.now(), address, bytesRead: 0 });
    tls.emit('connection', raw);
  };
  /**
   * A slot was given back: it goes to the waiting connection whose address has the fewest
   * handshakes in progress (the oldest among those), so one address's thousands of waiting
   * connections cannot keep another's agent waiting behind them.
   */
  const admitWaiting = () => {
    let best = -1;
    for (let i = 0; i < waiting.length; i++) {
      if (waiting[i]!.raw.destroyed) { waiting.splice(i--, 1); continue; }
      if (best < 0 || handshakes.held(waiting[i]!.address) < handshakes.held(waiting[best]!.address)) best = i;
    }
    const next = waiting[best];
    if (!next || !handshakes.take(next.address)) return;
    waiting.splice(best, 1);
    startHandshake(next.raw, next.address);
  };
  // Paused on accept: nothing is read until TLS takes the socket, so a waiting connection costs a descriptor and no buffers.
  const server = createTcpServer({ pauseOnConnect: true }, (raw: Socket) => {
    const address = raw.remoteAddress ?? 'unknown';
    raw.on('error', () => {});
    if (handshakes.take(address)) return startHandshake(raw, address);
    if (waiting.length >= maxWaiting) return refuse('handshakes', address, raw);
    waiting.push({ raw, address, since: Date.now() });
  });
  // Node reports a failed or timed-out handshake here and leaves the socket open unless told.
  tls.on('tlsClientError', (_error, socket) => {
    if (handshakeOver(keyOf(socket))) counts.failedHandshakes++;
    socket.destroy();
  });
  tls.on('secureConnection', (socket: TLSSocket) => {
    const key = keyOf(socket);
    const entry = handshakeOver(key);
    socket.on('error', () => {}); // the gRPC server sees the close; a reset is not ours to log
    if (!entry) return void socket.destroy(); // its slot was already given up: treat as timed out
    secured.add(socket);
    socket.once('close', () => secured.delete(socket));
    if (socket.authorized) {
      counts.authenticated++;
      socket.once('close', () => counts.authenticated--);
      options.authenticated(socket);
      return;
    }
    if (!unauthenticated.take(entry.address)) return refuse('unauthenticated', entry.address, socket);
    const guest: Watched = { phase: 'unauthenticated', since: Date.now(), lastActive: Date.now(), socket, address: entry.address, bytesRead: socket.bytesRead };
    watched.set(key, guest);
    socket.once('close', () => {
      if (watched.get(key) === guest) watched.delete(key);
      unauthenticated.give(entry.address);
    });
    options.unauthenticated(socket);
  });

  // One sweep for every timer: a flood must not cost a timer per socket.
  const sweep = setInterval(() => {
    const now = Date.now();
    while (waiting.length && (waiting[0]!.raw.destroyed || now - waiting[0]!.since > handshakeMs)) {
      const late = waiting.shift()!;
      if (!late.raw.destroyed) { counts.failedHandshakes++; late.raw.destroy(); }
    }
    for (const [key, entry] of watched) {
      if (entry.phase === 'handshake') {
        // Node's handshake timeout ends these (tlsClientError above); this only guards the count.
        if (now - entry.since > handshakeMs + 5_000 && handshakeOver(key)) counts.failedHandshakes++;
      } else {
        // Idle means nothing read from the client: a server that answers cannot keep a connection alive.
        if (entry.socket!.bytesRead !== entry.bytesRead) { entry.bytesRead = entry.socket!.bytesRead; entry.lastActive = now; }
        if (now - entry.since > lifetimeMs || now - entry.lastActive! > idleMs) { counts.expired++; entry.socket!.destroy(); }
      }
    }
  }, Math.min(500, handshakeMs, idleMs));
  sweep.unref();

  return {
    server,
    stats: () => ({ handshaking: handshakes.total, waiting: waiting.length, unauthenticated: unauthenticated.total, ...counts }),
    close() {
      clearInterval(sweep);
      server.close();
      for (const { raw } of waiting.splice(0)) raw.destroy();
      for (const socket of secured) socket.destroy();
    },
  };
}

interface Watched {
  phase: 'handshake' | 'unauthenticated';
  since: number;
  /** Only once the handshake is done. */
  socket?: TLSSocket;
  address: string;
  bytesRead: number;
  lastActive?: number;
}
