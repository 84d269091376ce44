import { hostname, networkInterfaces } from 'node:os';
import {
  Metadata, Server, ServerCredentials, ServerInterceptingCall, status as Status, type ServerInterceptor,
  type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData, type ServiceDefinition, type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import {
  CertificateError, caHash, certHosts, checkCsr, createCA, identityFromSubject, isIssuedBy, isValidName,
  issueClientCert, issueServerCert, signClientCsr, type Identity,
} from '@herd/pki';
import { COORDINATOR_TLS_NAME, herdProto, REFUSAL_REASON_KEY } from '@herd/proto';
import type {
  AdminHandlers, AgentMessage__Output, CoordinatorMessage, CreateTokenRequest__Output, CreateTokenResponse,
  EnrollRequest__Output, EnrollResponse, GetStatusRequest__Output, GetStatusResponse,
} from '@herd/proto';
import { systemClock, type Clock, type Logger, type MetricsRegistry } from '@herd/sys';
import { X509Certificate } from 'node:crypto';
import { certFingerprint, IdentityRegistry } from './identities.js';
import { startFrontDoor, type ConnectionLimits, type ConnectionStats } from './listener.js';
import { checkProtocolVersion, nodeKey, SessionRefused, SessionRegistry, type NodeRef, type SessionHandle } from './sessions.js';
import type { CoordinatorPki, CoordinatorStore } from './store.js';
import { TokenRefused, TokenRegistry } from './tokens.js';

export interface CoordinatorOptions {
  store: CoordinatorStore;
  /** Address to listen on; port 0 picks a free port (see Coordinator.port). */
  host: string;
  port: number;
  /** Extra names or IPs agents reach the coordinator at (NAT, DNS), put in the server certificate. */
  advertise?: readonly string[];
  logger: Logger;
  clock?: Clock;
  /** A node not heard from for this long is reported unreachable. Default 30 s (three heartbeats). */
  heartbeatTimeoutMs?: number;
  /** Largest message accepted from a client with a certificate. Default 4 MiB. */
  maxMessageBytes?: number;
  /** Largest message accepted from a client without one (Enroll: a CSR is under 1 KiB). Default 16 KiB. */
  maxUnauthenticatedMessageBytes?: number;
  /** Bounds on connections and handshakes (see ConnectionLimits for the defaults). */
  connectionLimits?: ConnectionLimits;
  /** A stream that sends no Hello within this long is closed. Default 10 s. */
  helloTimeoutMs?: number;
  /** Where the coordinator's metrics are counted (docs/metrics.md); served by the caller. */
  metrics?: MetricsRegistry;
}

export interface Coordinator {
  /** The port actually bound. */
  readonly port: number;
  /** `sha256:HEX` of the CA, the pin agents enroll with. */
  readonly caHash: string;
  readonly caPem: string;
  /** Sessions, assignments and their events: the API the coordinator loop uses. */
  readonly nodes: SessionRegistry;
  readonly tokens: TokenRegistry;
  readonly identities: IdentityRegistry;
  /** What the listener holds and has turned away. */
  connections(): ConnectionStats;
  /** Closes every stream and the listener. */
  close(): Promise<void>;
}

export const DEFAULT_TOKEN_TTL_MS = 15 * 60_000;
const MAX_TOKEN_TTL_MS = 7 * 24 * 3_600_000;

/** Every name and address a coordinator bound to `host` is reachable at (for its certificate). */
export function serverHosts(host: string, advertise: readonly string[] = []): string[] {
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const local = wildcard
    ? Object.values(networkInterfaces()).flat().map((i) => i?.address).filter((a): a is string => Boolean(a) && !a!.includes('%'))
    : [host];
  return [...new Set([COORDINATOR_TLS_NAME, ...advertise, ...local, ...(wildcard ? [hostname()] : []), '127.0.0.1', 'localhost'])];
}

/** Loads the CA and certificates, creating what is missing; reissues the server certificate when its names no longer fit. */
export async function ensurePki(store: CoordinatorStore, hosts: readonly string[], logger: Logger): Promise<CoordinatorPki> {
  const loaded = await store.loadPki();
  let ca = loaded.ca;
  let server = loaded.server;
  let admin = loaded.admin;
  if (!ca) {
    logger.info('creating the coordinator CA');
    ca = await createCA();
    server = admin = undefined; // certificates of a lost CA are worthless
  }
  if (!server || hosts.some((h) => !certHosts(server!.certPem).includes(h))) {
    logger.info({ hosts }, 'issuing the coordinator server certificate');
    server = await issueServerCert(ca, hosts);
  }
  admin ??= await issueClientCert(ca, { role: 'admin', name: 'admin' });
  const pki = { ca, server, admin };
  if (ca !== loaded.ca || server !== loaded.server || admin !== loaded.admin) await store.savePki(pki);
  return pki;
}

/** A refusal the caller sees as a gRPC status and the coordinator logs. */
class Refusal extends Error {
  constructor(readonly code: Status, message: string, readonly reason: string) {
    super(message);
  }
}

export async function startCoordinator(options: CoordinatorOptions): Promise<Coordinator> {
  const { store, logger } = options;
  const clock = options.clock ?? systemClock;
  const maxMessageBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
  const helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
  const pki = await ensurePki(store, serverHosts(options.host, options.advertise), logger);
  const pin = caHash(pki.ca.certPem);
  const nodes = new SessionRegistry({ clock, logger, heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 30_000, metrics: options.metrics });
  const tokens = new TokenRegistry(store, clock);
  const identities = await IdentityRegistry.load(store, clock);
  /** Every open stream, with the node and certificate it was opened with (refused when that identity is replaced). */
  const open = new Map<ServerDuplexStream<AgentMessage__Output, CoordinatorMessage>, { key: string; fingerprint: string; replaced(): void }>();
  // Enrollments run one at a time: "is this name taken?" and "record its identity" must not interleave.
  let enrolling: Promise<unknown> = Promise.resolve();

  /**
   * The caller's identity from its client certificate, or a Refusal. grpc-js only reports
   * a peer certificate that verified against our CA; it is checked again here so that
   * an accident in TLS configuration cannot turn into an authorization hole.
   */
  function authenticate(call: { getAuthContext(): { sslPeerCertificate?: { raw?: Buffer; subject: object } } | null }, role: Identity['role']): Identity {
    const cert = call.getAuthContext()?.sslPeerCertificate;
    if (!cert?.raw || !isIssuedBy(cert.raw, pki.ca.certPem, clock.now())) {
      throw new Refusal(Status.UNAUTHENTICATED, 'this service needs a client certificate issued by this coordinator', 'no-client-certificate');
    }
    const identity = identityFromSubject(cert.subject as Record<string, string>);
    if (identity?.role !== role) {
      throw new Refusal(Status.PERMISSION_DENIED, `this service is for ${role} certificates only`, 'wrong-role');
    }
    return identity;
  }

  function unary<Req, Res>(method: string, handle: (call: ServerUnaryCall<Req, Res>) => Promise<Res>) {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      handle(call).then(
        (response) => callback(null, response),
        (error: unknown) => {
          const refusal = toRefusal(error);
          logger.warn({ method, peer: call.getPeer(), reason: refusal.reason, err: refusal.message }, 'request refused');
          const metadata = new Metadata();
          metadata.set(REFUSAL_REASON_KEY, refusal.reason);
          callback({ code: refusal.code, details: refusal.message, metadata });
        },
      );
    };
  }

  function toRefusal(error: unknown): Refusal {
    if (error instanceof Refusal) return error;
    if (error instanceof TokenRefused) return new Refusal(Status.UNAUTHENTICATED, error.message, `token-${error.reason}`);
    if (error instanceof CertificateError) return new Refusal(Status.INVALID_ARGUMENT, error.message, 'bad-csr');
    if (error instanceof SessionRefused) {
      const code = error.reason === 'identity-mismatch' ? Status.PERMISSION_DENIED
        : error.reason === 'unsupported-protocol' ? Status.FAILED_PRECONDITION : Status.INVALID_ARGUMENT;
      return new Refusal(code, error.message, error.reason);
    }
    logger.error({ err: error }, 'internal error');
    return new Refusal(Status.INTERNAL, 'internal error', 'internal');
  }

  const enrollment = {
    Enroll: unary<EnrollRequest__Output, EnrollResponse>('Enroll', async (call) => {
      const request = call.request;
      checkProtocolVersion(request.protocolVersion);
      await checkCsr(request.csrPem);
      const work = enrolling.then(() => enrollOne(request));
      enrolling = work.catch(() => undefined);
      return work;
    }),
  };

  async function enrollOne(request: EnrollRequest__Output): Promise<EnrollResponse> {
    const token = await tokens.consume(request.token, (record) => {
      const node = record.node ?? (request.nodeName || request.hostname.toLowerCase());
      if (request.nodeName && request.nodeName !== node) {
        throw new TokenRefused('wrong-node', `token ${record.id} is for node ${node}, not ${request.nodeName}`, record.id);
      }
      if (!isValidName(node)) {
        throw new Refusal(Status.INVALID_ARGUMENT, `"${node}" is not a valid node name (lower-case DNS label); pass --node`, 'bad-node-name');
      }
      // Taking over an enrolled name needs a token an operator made for exactly that node.
      const enrolled = identities.get({ cluster: record.cluster, node });
      if (enrolled && record.node !== node) {
        throw new Refusal(Status.ALREADY_EXISTS, `node ${node} of cluster ${record.cluster} is already enrolled (since ${enrolled.since}); `
          + `to re-enroll a lost machine, create a token for it: herd token create --cluster ${record.cluster} --node ${node}`, 'node-already-enrolled');
      }
      return node;
    });
    const ref = { cluster: token.cluster, node: token.usedBy! };
    const certificatePem = await signClientCsr(pki.ca, request.csrPem, { role: 'node', ...ref });
    const { record, replaced } = await identities.issued(ref, certificatePem);
    if (replaced) {
      logger.warn({ node: nodeKey(ref), tokenId: token.id, oldSerial: replaced.serial, serial: record.serial, identityGeneration: record.generation },
        'node re-enrolled: its previous certificate is no longer accepted');
      for (const stream of open.values()) if (stream.key === nodeKey(ref) && stream.fingerprint !== record.fingerprint) stream.replaced();
    }
    logger.info({ node: ref.node, cluster: ref.cluster, tokenId: token.id, serial: record.serial }, 'agent enrolled');
    return { certificatePem, caPem: pki.ca.certPem, cluster: ref.cluster, nodeName: ref.node };
  }

  /** A node certificate must be the node's recorded identity; one with no record becomes it (see IdentityRegistry.adopt). */
  async function checkIdentity(ref: NodeRef, der: Buffer): Promise<void> {
    const check = identities.check(ref, der);
    if (check === 'current') return;
    if (check === 'unknown' && await identities.adopt(ref, der)) {
      logger.info({ node: nodeKey(ref), serial: new X509Certificate(der).serialNumber }, 'identity recorded for a node enrolled before identities were kept');
      return;
    }
    throw new Refusal(Status.UNAUTHENTICATED, `this certificate of node ${ref.node} was replaced by a re-enrollment and is no longer accepted`,
      'identity-replaced');
  }

  const admin: AdminHandlers = {
    GetStatus: unary<GetStatusRequest__Output, GetStatusResponse>('GetStatus', async (call) => {
      authenticate(call, 'admin');
      const sessions = nodes.sessions(call.request.cluster || undefined).map((session) => {
        const identity = identities.get({ cluster: session.cluster, node: session.nodeName });
        return { ...session, identityGeneration: identity?.generation ?? 0, identityReplacedAt: identity?.replacedAt ?? '' };
      });
      return { commit: '', nodes: sessions, errors: [] };
    }),
    CreateToken: unary<CreateTokenRequest__Output, CreateTokenResponse>('CreateToken', async (call) => {
      authenticate(call, 'admin');
      const { cluster, nodeName, ttlSeconds } = call.request;
      for (const name of [cluster, ...(nodeName ? [nodeName] : [])]) {
        if (!isValidName(name)) throw new Refusal(Status.INVALID_ARGUMENT, `"${name}" is not a valid name (lower-case DNS label)`, 'bad-name');
      }
      const ttlMs = ttlSeconds ? ttlSeconds * 1000 : DEFAULT_TOKEN_TTL_MS;
      if (ttlMs > MAX_TOKEN_TTL_MS) throw new Refusal(Status.INVALID_ARGUMENT, 'a token lives at most 7 days', 'bad-ttl');
      const created = await tokens.create({ cluster, ...(nodeName ? { node: nodeName } : {}), ttlMs });
      logger.info({ cluster, node: nodeName || undefined, tokenId: created.id, expires: created.expires }, 'token created');
      return { token: created.token, expires: created.expires, caHash: pin };
    }),
  };

  function connect(call: ServerDuplexStream<AgentMessage__Output, CoordinatorMessage>) {
    let handle: SessionHandle | undefined;
    let done = false;
    const peer = call.getPeer();
    const finish = (reason: string) => {
      if (done) return;
      done = true;
      clearTimeout(helloTimer);
      open.delete(call);
      handle?.close(reason);
    };
    const refuse = (error: unknown) => {
      const refusal = toRefusal(error);
      logger.warn({ method: 'Connect', peer, reason: refusal.reason, err: refusal.message }, 'stream refused');
      finish(`refused: ${refusal.reason}`);
      call.write({ refusal: { reason: refusal.reason, message: refusal.message } });
      call.emit('error', { code: refusal.code, details: refusal.message });
    };
    const helloTimer = setTimeout(() => refuse(new Refusal(Status.DEADLINE_EXCEEDED, `no hello within ${helloTimeoutMs} ms`, 'no-hello')), helloTimeoutMs);
    let identity: Identity & { role: 'node' };
    try {
      identity = authenticate(call, 'node') as Identity & { role: 'node' };
    } catch (error) {
      refuse(error);
      return;
    }
    const der = call.getAuthContext()!.sslPeerCertificate!.raw;
    const replaced = () => refuse(new Refusal(Status.UNAUTHENTICATED, `node ${identity.node} was re-enrolled: this certificate is no longer accepted`,
      'identity-replaced'));
    open.set(call, { key: nodeKey(identity), fingerprint: certFingerprint(der), replaced });
    // Messages that arrive while the identity is checked wait for it, in order.
    const checked = checkIdentity(identity, der);
    checked.catch(refuse);
    call.on('data', (message: AgentMessage__Output) => {
      void checked.then(() => {
        if (done) return;
        try {
          if (handle) {
            handle.receive(message);
          } else {
            if (message.body !== 'hello' || !message.hello) throw new SessionRefused('protocol-violation', 'the first message on a stream must be hello');
            clearTimeout(helloTimer);
            handle = nodes.open(identity, message.hello, { write: (m, written) => call.write(m, () => written()) });
          }
        } catch (error) {
          refuse(error);
        }
      }, () => {});
    });
    call.on('end', () => {
      finish('agent closed the stream');
      call.end();
    });
    call.on('cancelled', () => finish('stream cancelled (agent gone, or a message over the size limit)'));
    call.on('error', () => finish('stream error'));
  }

  const proto = herdProto().herd.v1;
  const common = {
    // channelz keeps per-connection trace objects nobody reads here (measured: ~11 KB RSS per agent).
    'grpc.enable_channelz': 0,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    // Finds connections whose agent vanished without closing them (power loss, NAT expiry).
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.keepalive_permit_without_calls': 1,
  };
  // Every service on both servers: the services check credentials per call themselves, so
  // a call without a certificate to AgentSession or Admin is refused with its reason.
  const serve = (server: Server) => {
    server.addService(loggingDecodeErrors(proto.Enrollment.service, logger), enrollment as UntypedServiceImplementation);
    server.addService(loggingDecodeErrors(proto.AgentSession.service, logger), { Connect: connect } as UntypedServiceImplementation);
    server.addService(loggingDecodeErrors(proto.Admin.service, logger), admin as UntypedServiceImplementation);
    return server.createConnectionInjector(ServerCredentials.createInsecure());
  };
  const server = new Server({ ...common, interceptors: [loggingEarlyEnds(logger, maxMessageBytes)], 'grpc.max_receive_message_length': maxMessageBytes });
  // For callers without a certificate: small messages and few streams (the front door closes them when idle).
  const unauthenticatedBytes = options.maxUnauthenticatedMessageBytes ?? 16 * 1024;
  const guest = new Server({
    ...common,
    interceptors: [loggingEarlyEnds(logger, unauthenticatedBytes)],
    'grpc.max_receive_message_length': unauthenticatedBytes,
    'grpc.max_concurrent_streams': 4,
  });
  const injectors = { authenticated: serve(server), guest: serve(guest) };

  // One port, TLS ended by the front door: the handshake asks for a client certificate but
  // does not require one, so Enrollment works before an agent has one. The server also
  // sends the CA, which is what an enrolling agent pins by hash.
  const door = startFrontDoor({
    ...options.connectionLimits,
    keyPem: pki.server.keyPem, chainPem: pki.server.certPem + pki.ca.certPem, caPem: pki.ca.certPem, logger,
    authenticated: (socket) => injectors.authenticated.injectConnection(socket),
    unauthenticated: (socket) => injectors.guest.injectConnection(socket),
  });
  const port = await new Promise<number>((resolve, reject) => {
    door.server.once('error', reject);
    door.server.listen({ host: options.host || '::', port: options.port }, () => {
      door.server.off('error', reject);
      resolve((door.server.address() as { port: number }).port);
    });
  });
  logger.info({ host: options.host, port, caHash: pin, maxMessageBytes, maxUnauthenticatedMessageBytes: unauthenticatedBytes }, 'coordinator listening');

  return {
    port,
    caHash: pin,
    caPem: pki.ca.certPem,
    nodes,
    tokens,
    identities,
    connections: () => door.stats(),
    async close() {
      for (const call of open.keys()) call.emit('error', { code: Status.UNAVAILABLE, details: 'coordinator shutting down' });
      door.close();
      server.forceShutdown();
      guest.forceShutdown();
    },
  };
}

/**
 * grpc-js answers a message that does not decode with INTERNAL and tells nobody; wrapping
 * the decoder gives the coordinator its log line for it.
 */
function loggingDecodeErrors(service: ServiceDefinition, logger: Logger): ServiceDefinition {
  return Object.fromEntries(Object.entries(service).map(([name, method]) => [name, {
    ...method,
    requestDeserialize: (bytes: Buffer) => {
      try {
        return method.requestDeserialize(bytes);
      } catch (error) {
        logger.warn({ method: method.path, bytes: bytes.length, err: (error as Error).message }, 'malformed message refused');
        throw error;
      }
    },
  }]));
}

/**
 * grpc-js refuses a request over the size limit before any handler runs, and tells the
 * application only that the call was cancelled. A call that ends before its first message
 * was read is logged here, so that refusal has its log line too.
 */
function loggingEarlyEnds(logger: Logger, maxMessageBytes: number): ServerInterceptor {
  return (method, call) => {
    let received = false;
    return new ServerInterceptingCall(call, {
      start: (next) => next({
        onReceiveMessage: (message, forward) => { received = true; forward(message); },
        onCancel: () => {
          if (!received) {
            logger.warn({ method: method.path, peer: call.getPeer(), maxMessageBytes },
              'call ended before its first message was read: cancelled by the client, or the message was over the size limit or did not decode');
          }
        },
      }),
    });
  };
}
