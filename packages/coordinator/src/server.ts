import { hostname, networkInterfaces } from 'node:os';
import {
  Server, ServerCredentials, ServerInterceptingCall, experimental, status as Status, type ServerInterceptor,
  type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData, type ServiceDefinition, type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import {
  CertificateError, caHash, certHosts, checkCsr, createCA, identityFromSubject, isIssuedBy, isValidName,
  issueClientCert, issueServerCert, signClientCsr, type Identity,
} from '@herd/pki';
import { COORDINATOR_TLS_NAME, formatHostPort, herdProto } from '@herd/proto';
import type {
  AdminHandlers, AgentMessage__Output, CoordinatorMessage, CreateTokenRequest__Output, CreateTokenResponse,
  EnrollRequest__Output, EnrollResponse, GetStatusRequest__Output, GetStatusResponse,
} from '@herd/proto';
import { systemClock, type Clock, type Logger } from '@herd/sys';
import { checkProtocolVersion, SessionRefused, SessionRegistry, type SessionHandle } from './sessions.js';
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
  /** Largest message accepted from a client. Default 4 MiB. */
  maxMessageBytes?: number;
  /** A stream that sends no Hello within this long is closed. Default 10 s. */
  helloTimeoutMs?: number;
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

/**
 * Serves fixed certificates to grpc-js's certificate-provider credentials. Listeners are
 * answered on a later tick: grpc-js registers its watcher only after adding the listeners.
 */
function staticProvider(ca: Buffer, certificate: Buffer, privateKey: Buffer): experimental.CertificateProvider {
  return {
    addCaCertificateListener: (listener) => queueMicrotask(() => listener({ caCertificate: ca })),
    removeCaCertificateListener: () => {},
    addIdentityCertificateListener: (listener) => queueMicrotask(() => listener({ certificate, privateKey })),
    removeIdentityCertificateListener: () => {},
  };
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
  const nodes = new SessionRegistry({ clock, logger, heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 30_000 });
  const tokens = new TokenRegistry(store, clock);
  const open = new Set<ServerDuplexStream<AgentMessage__Output, CoordinatorMessage>>();

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
          callback({ code: refusal.code, details: refusal.message });
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
      const token = await tokens.consume(request.token, (record) => {
        const node = record.node ?? (request.nodeName || request.hostname.toLowerCase());
        if (request.nodeName && request.nodeName !== node) {
          throw new TokenRefused('wrong-node', `token ${record.id} is for node ${node}, not ${request.nodeName}`, record.id);
        }
        if (!isValidName(node)) throw new Refusal(Status.INVALID_ARGUMENT, `"${node}" is not a valid node name (lower-case DNS label); pass --node`, 'bad-node-name');
        return node;
      });
      const certificatePem = await signClientCsr(pki.ca, request.csrPem, { role: 'node', node: token.usedBy!, cluster: token.cluster });
      logger.info({ node: token.usedBy, cluster: token.cluster, tokenId: token.id }, 'agent enrolled');
      return { certificatePem, caPem: pki.ca.certPem, cluster: token.cluster, nodeName: token.usedBy! };
    }),
  };

  const admin: AdminHandlers = {
    GetStatus: unary<GetStatusRequest__Output, GetStatusResponse>('GetStatus', async (call) => {
      authenticate(call, 'admin');
      return { commit: '', nodes: nodes.sessions(call.request.cluster || undefined), errors: [] };
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
    open.add(call);
    let identity: Identity & { role: 'node' };
    try {
      identity = authenticate(call, 'node') as Identity & { role: 'node' };
    } catch (error) {
      refuse(error);
      return;
    }
    call.on('data', (message: AgentMessage__Output) => {
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
    });
    call.on('end', () => {
      finish('agent closed the stream');
      call.end();
    });
    call.on('cancelled', () => finish('stream cancelled (agent gone, or a message over the size limit)'));
    call.on('error', () => finish('stream error'));
  }

  const proto = herdProto().herd.v1;
  const server = new Server({
    interceptors: [loggingEarlyEnds(logger, maxMessageBytes)],
    'grpc.max_receive_message_length': maxMessageBytes,
    // channelz keeps per-connection trace objects nobody reads here (measured: ~11 KB RSS per agent).
    'grpc.enable_channelz': 0,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    // Finds connections whose agent vanished without closing them (power loss, NAT expiry).
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.keepalive_permit_without_calls': 1,
  });
  server.addService(loggingDecodeErrors(proto.Enrollment.service, logger), enrollment as UntypedServiceImplementation);
  server.addService(loggingDecodeErrors(proto.AgentSession.service, logger), { Connect: connect } as UntypedServiceImplementation);
  server.addService(loggingDecodeErrors(proto.Admin.service, logger), admin as UntypedServiceImplementation);

  // One port: the handshake asks for a client certificate but does not require one, so
  // Enrollment works before an agent has one; AgentSession and Admin check it per call.
  // The server also sends the CA, which is what an enrolling agent pins by hash.
  const chain = Buffer.from(pki.server.certPem + pki.ca.certPem);
  const provider = staticProvider(Buffer.from(pki.ca.certPem), chain, Buffer.from(pki.server.keyPem));
  const credentials: ServerCredentials = experimental.createCertificateProviderServerCredentials(provider, provider, false);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(formatHostPort(options), credentials, (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  logger.info({ host: options.host, port, caHash: pin, maxMessageBytes }, 'coordinator listening');

  return {
    port,
    caHash: pin,
    caPem: pki.ca.certPem,
    nodes,
    tokens,
    async close() {
      for (const call of open) call.emit('error', { code: Status.UNAVAILABLE, details: 'coordinator shutting down' });
      server.forceShutdown();
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
