/**
 * Kubernetes versions as the different consumers spell them: kubeadm and the API want
 * "v1.34.4", pkgs.k8s.io's (and our built) Debian packages "1.34.4-1.1", the upgrade
 * rules compare minors.
 */
import { InvalidProfileInput } from './errors.js';

const EXACT = /^v?(\d+)\.(\d+)\.(\d+)$/;

function parse(v: string): [number, number, number] {
  const m = EXACT.exec(v);
  if (!m) throw new InvalidProfileInput('version', `"${v}" is not an exact Kubernetes version like 1.34.4 or v1.34.4`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** "1.34.4" or "v1.34.4" → "v1.34.4". */
export function kubeVersion(v: string): string {
  return `v${parse(v).join('.')}`;
}

/** "1.34.4" or "v1.34.4" → "1.34.4-1.1", the revision pkgs.k8s.io gives every release. */
export function debianVersion(v: string): string {
  return `${parse(v).join('.')}-1.1`;
}

/** "v1.34.4" → 34. */
export function minorOf(v: string): number {
  return parse(v)[1];
}
