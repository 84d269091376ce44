import { connect, type DetailedPeerCertificate } from 'node:tls';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { caHash, createCsr, isIssuedBy, toPem } from '@herd/pki/client';
import { COORDINATOR_CHANNEL_OPTIONS, formatHostPort, herdProto, PROTOCOL_VERSION, REFUSAL_REASON_KEY } from '@herd/proto';
import type { EnrollResponse__Output } from '@herd/proto';
import { UserError } from '@herd/sys';
import { coordinatorAddress } from './coordinator-address.js';
import type { Credentials } from './state.js';

/** The coordinator did not present the CA the agent was told to trust: nothing secret was sent. */
export class CAHashMismatch extends UserError {
  override readonly name = 'CAHashMismatch';
}

/** The coordinator refused the enrollment (token expired, used, unknown, node already enrolled...). */
export class EnrollmentRefused extends UserError {
  override readonly name = 'EnrollmentRefused';
  /** The gRPC status code, and the coordinator's reason (such as `token-used`, `node-already-enrolled`). */
  constructor(message: string, readonly code: number, readonly reason: string) {
    super(message);
  }
}

export { coordinatorAddress };

/**
 * Fetches the CA the coordinator presents in its TLS chain, without trusting it, and
 * accepts it only if its public key hashes to `pin` and it signed the server's
 * certificate (kubeadm's discovery-hash check, on the TLS handshake instead of a ConfigMap).
 */
export async function discoverCA(address: string, pin: string, timeoutMs = 10_000): Promise<string> {
  const { host, port } = coordinatorAddress(address);
  const chain = await new Promise<DetailedPeerCertificate>((resolve, reject) => {
    const socket = connect({ host, port, servername: isIP(host) ? undefined : host, rejectUnauthorized: false, ALPNProtocols: ['h2'], timeout: timeoutMs });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate(true));
      socket.destroy();
    });
    socket.once('timeout', () => socket.destroy(new Error(`no TLS handshake within ${timeoutMs} ms`)));
    socket.once('error', (error) => reject(new UserError(`cannot reach the coordinator at ${address}: ${error.message}`)));
  });
  const certs: string[] = [];
  for (let cert: DetailedPeerCertificate | undefined = chain; cert?.raw && certs.length < 8; cert = cert.issuerCertificate) {
    const pem = toPem(cert.raw, 'CERTIFICATE');
    if (certs.includes(pem)) break; // a self-signed root points at itself
    certs.push(pem);
  }
  const ca = certs.find((pem) => caHash(pem) === pin);
  if (!ca) {
    throw new CAHashMismatch(`the coordinator at ${address} presented CA ${certs.map(caHash).at(-1) ?? '(none)'}, not the pinned ${pin}; refusing to send the token`);
  }
  if (!isIssuedBy(certs[0]!, ca)) throw new CAHashMismatch(`the coordinator's certificate at ${address} is not signed by the pinned CA`);
  return ca;
}

export interface EnrollOptions {
  coordinator: string;
  token: string;
  caHash: string;
  /** Requested node name; empty lets the token (or else the hostname) decide. */
  node?: string;
  timeoutMs?: number;
}

/** Enrolls this machine: pin the CA, send token and CSR, get back a certificate for the node. */
export async function enroll(options: EnrollOptions): Promise<Credentials> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const caPem = await discoverCA(options.coordinator, options.caHash, timeoutMs);
  const { csrPem, keyPem } = await createCsr(options.node || hostname());
  // From here on the connection is verified against the pinned CA.
  const client = new (herdProto().herd.v1.Enrollment)(formatHostPort(coordinatorAddress(options.coordinator)), credentials.createSsl(Buffer.from(caPem)), COORDINATOR_CHANNEL_OPTIONS);
  try {
    const response = await new Promise<EnrollResponse__Output>((resolve, reject) => {
      client.Enroll(
        { token: options.token, nodeName: options.node ?? '', hostname: hostname(), csrPem, protocolVersion: PROTOCOL_VERSION },
        { deadline: new Date(Date.now() + timeoutMs) },
        (error: ServiceError | null, value?: EnrollResponse__Output) => (error
          ? reject(new EnrollmentRefused(`enrollment refused: ${error.details}`, error.code, String(error.metadata?.get(REFUSAL_REASON_KEY)[0] ?? '')))
          : resolve(value!)),
      );
    });
    return { node: response.nodeName, cluster: response.cluster, coordinator: options.coordinator, caPem, certPem: response.certificatePem, keyPem };
  } finally {
    client.close();
  }
}
