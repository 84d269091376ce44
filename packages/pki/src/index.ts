// @peculiar/x509 resolves its algorithm registry through tsyringe, which needs the
// Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { isValidName } from './names.js';
import { createCsr, toPem } from './client.js';

// The parts the agent uses live in modules that load no X.509 library (@herd/pki/client, /names).
export { CA_HASH_PATTERN, isValidName } from './names.js';
export { caHash, createCsr, isIssuedBy, toPem } from './client.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as never);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** Certificates start slightly in the past so a machine whose clock lags still accepts them. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** A certificate and its private key, both PEM (the key as PKCS#8). */
export interface CertAndKey {
  certPem: string;
  keyPem: string;
}

/** Who a client certificate belongs to. The subject encodes it: CN=name, OU=cluster, O=herd:ROLE. */
export type Identity =
  | { role: 'node'; node: string; cluster: string }
  | { role: 'admin'; name: string };

/** A certificate or CSR that cannot be used: malformed, badly signed, not ours. */
export class CertificateError extends Error {
  override readonly name = 'CertificateError';
}

const ROLE_PREFIX = 'herd:';

function fromPem(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

async function exportKey(key: CryptoKey): Promise<string> {
  return toPem(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

async function importSigningKey(keyPem: string): Promise<CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', fromPem(keyPem), ALGORITHM, false, ['sign']);
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f; // positive
  return bytes.toString('hex');
}

function validity(days: number, now: number) {
  return { notBefore: new Date(now - CLOCK_SKEW_MS), notAfter: new Date(now + days * DAY_MS) };
}

/** Creates a self-signed CA (ECDSA P-256) that signs the coordinator's and the agents' certificates. */
export async function createCA(commonName = 'herd coordinator CA', { days = 3650, now = Date.now() } = {}): Promise<CertAndKey> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${commonName}`,
    ...validity(days, now),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKey(keys.privateKey!) };
}

async function sign(
  ca: CertAndKey,
  subject: string,
  publicKey: CryptoKey,
  extensions: x509.Extension[],
  days: number,
  now: number,
): Promise<string> {
  const issuer = new x509.X509Certificate(ca.certPem);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject,
    issuer: issuer.subject,
    ...validity(days, now),
    publicKey,
    signingKey: await importSigningKey(ca.keyPem),
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      await x509.AuthorityKeyIdentifierExtension.create(issuer),
      ...extensions,
    ],
  });
  return cert.toString('pem') + '\n';
}

/** The coordinator's serving certificate: valid for every host name and IP it is reached at. */
export async function issueServerCert(ca: CertAndKey, hosts: readonly string[], { days = 825, now = Date.now() } = {}): Promise<CertAndKey> {
  if (hosts.length === 0) throw new CertificateError('a server certificate needs at least one host name or IP');
  const keys = await generateKeys();
  const names = [...new Set(hosts)].map((h) => (isIP(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h }));
  const certPem = await sign(ca, `CN=${hosts[0]}`, keys.publicKey, [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension(names),
  ], days, now);
  return { certPem, keyPem: await exportKey(keys.privateKey) };
}

function subjectOf(identity: Identity): string {
  const names = identity.role === 'node' ? [identity.node, identity.cluster] : [identity.name];
  for (const n of names) if (!isValidName(n)) throw new CertificateError(`"${n}" is not a valid name (lower-case DNS label)`);
  return identity.role === 'node'
    ? `CN=${identity.node}, OU=${identity.cluster}, O=${ROLE_PREFIX}node`
    : `CN=${identity.name}, O=${ROLE_PREFIX}admin`;
}

/** Parses a CSR and checks it is self-signed with an ECDSA P-256 key; throws CertificateError. */
export async function checkCsr(csrPem: string): Promise<x509.Pkcs10CertificateRequest> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch {
    throw new CertificateError('the certificate signing request is not valid PEM PKCS#10');
  }
  const algorithm = csr.publicKey.algorithm as webcrypto.EcKeyAlgorithm;
  if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') {
    throw new CertificateError('the certificate signing request must carry an ECDSA P-256 key');
  }
  if (!(await csr.verify())) throw new CertificateError('the certificate signing request is not signed by its own key');
  return csr;
}

/** The host names and IPs a server certificate is valid for. */
export function certHosts(certPem: string): string[] {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  return san.split(', ').map((entry) => entry.replace(/^(DNS|IP Address):/, '')).filter(Boolean);
}

/**
 * Signs a client certificate for `identity` over the CSR's public key. Only the key comes
 * from the CSR (its self-signature proves the requester holds it); the subject is ours.
 */
export async function signClientCsr(ca: CertAndKey, csrPem: string, identity: Identity, { days = 365, now = Date.now() } = {}): Promise<string> {
  const csr = await checkCsr(csrPem);
  const publicKey = await csr.publicKey.export(ALGORITHM, ['verify'], webcrypto as never);
  return sign(ca, subjectOf(identity), publicKey, [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])], days, now);
}

/** A client certificate with a fresh key, for callers the CA creates itself (the admin CLI). */
export async function issueClientCert(ca: CertAndKey, identity: Identity, options?: { days?: number; now?: number }): Promise<CertAndKey> {
  const { csrPem, keyPem } = await createCsr('client');
  return { certPem: await signClientCsr(ca, csrPem, identity, options), keyPem };
}

type SubjectField = string | string[] | undefined;
const single = (v: SubjectField) => (Array.isArray(v) ? undefined : v);

/**
 * The identity in a certificate subject as Node's TLS layer reports it
 * (`PeerCertificate.subject`); undefined for a subject herd did not write.
 */
export function identityFromSubject(subject: Record<string, SubjectField>): Identity | undefined {
  const cn = single(subject.CN);
  const org = single(subject.O);
  if (!cn || !org?.startsWith(ROLE_PREFIX)) return undefined;
  const role = org.slice(ROLE_PREFIX.length);
  if (role === 'admin') return { role, name: cn };
  const ou = single(subject.OU);
  if (role === 'node' && ou) return { role, node: cn, cluster: ou };
  return undefined;
}

/** The identity in a PEM certificate (what the agent reads back from its own certificate). */
export function identityOf(certPem: string): Identity | undefined {
  const cert = new X509Certificate(certPem);
  const subject: Record<string, string> = {};
  for (const line of cert.subject.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) subject[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return identityFromSubject(subject);
}

