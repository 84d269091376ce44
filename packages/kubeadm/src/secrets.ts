/** The only randomness of this package: secrets the coordinator generates once and keeps. */
import { randomBytes } from 'node:crypto';

/** A key for kubeadm's uploaded control-plane certificates: 32 random bytes, hex (what `kubeadm certs certificate-key` prints). */
export function newCertificateKey(): string {
  return randomBytes(32).toString('hex');
}

/** A VRRP password for keepalived: PASS authentication reads 8 characters at most. */
export function newVrrpPassword(): string {
  return randomBytes(6).toString('base64url');
}
