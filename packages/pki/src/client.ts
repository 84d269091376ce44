// What a client of the CA needs (the agent, enrolling): the CA pin, a key and CSR, PEM.
// node:crypto only, no X.509 library: @herd/pki/client keeps the agent's enrollment from
// loading (and then holding for its whole life) about 13 MB of certificate-building code.
import { X509Certificate, createHash, generateKeyPair, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

/** DER bytes as PEM with the given label (`CERTIFICATE`, `PRIVATE KEY`). */
export function toPem(der: ArrayBuffer | Buffer, label: string): string {
  const b64 = Buffer.from(der as ArrayBuffer).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

/**
 * The CA pin an agent is given with its token: `sha256:` + hex SHA-256 of the CA's
 * SubjectPublicKeyInfo DER, the format of kubeadm's --discovery-token-ca-cert-hash.
 */
export function caHash(caPem: string): string {
  const spki = new X509Certificate(caPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

/** True when `cert` (PEM or DER) was signed by the CA in `caPem` and is valid at `now`. */
export function isIssuedBy(certPem: string | Buffer, caPem: string, now = Date.now()): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    const inTime = Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
    return inTime && cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** One DER element: tag, definite length, contents. */
function der(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}

const SEQUENCE = 0x30;
const SET = 0x31;
const OID_COMMON_NAME = Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]); // 2.5.4.3
const OID_ECDSA_SHA256 = Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]); // 1.2.840.10045.4.3.2

/**
 * A new ECDSA P-256 key and a PKCS#10 request for it (RFC 2986), signed with ECDSA-SHA256.
 * The subject is a hint: the CA decides the identity.
 */
export async function createCsr(commonName: string): Promise<{ csrPem: string; keyPem: string }> {
  const { publicKey, privateKey } = await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' }) as { publicKey: KeyObject; privateKey: KeyObject };
  const subject = der(SEQUENCE, der(SET, der(SEQUENCE, OID_COMMON_NAME, der(0x0c, Buffer.from(commonName, 'utf8')))));
  const info = der(SEQUENCE,
    Buffer.from([0x02, 0x01, 0x00]), // version 0
    subject,
    publicKey.export({ type: 'spki', format: 'der' }),
    Buffer.from([0xa0, 0x00])); // no attributes
  const signature = sign('sha256', info, privateKey); // DER ECDSA-Sig-Value
  const csr = der(SEQUENCE, info, der(SEQUENCE, OID_ECDSA_SHA256), der(0x03, Buffer.from([0]), signature));
  return { csrPem: toPem(csr, 'CERTIFICATE REQUEST'), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}
