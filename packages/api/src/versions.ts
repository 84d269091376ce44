/**
 * The Kubernetes versions herd supports: the one definition validation, docs and messages
 * use. The oldest is the first minor that reads kubeadm's v1beta4 configuration (what
 * @herd/kubeadm writes); the newest is one minor past those herd's tests run kubeadm with
 * (test/kubeadm: 1.34 and 1.35), so the next upgrade can be committed. Patches are not
 * listed: pkgs.k8s.io and the Go module proxy serve them, and a patch that was never released
 * fails when the provider fetches it, with its name.
 */
export const SUPPORTED_KUBERNETES = { major: 1, oldestMinor: 31, newestMinor: 36 } as const;

export function supportedKubernetesText(): string {
  const { major, oldestMinor, newestMinor } = SUPPORTED_KUBERNETES;
  return `${major}.${oldestMinor} to ${major}.${newestMinor} (any patch)`;
}

/** True for `MAJOR.MINOR.PATCH` of a supported minor (the format is checked separately). */
export function isSupportedKubernetes(version: string): boolean {
  const [major, minor] = version.split('.').map(Number);
  const { oldestMinor, newestMinor } = SUPPORTED_KUBERNETES;
  return major === SUPPORTED_KUBERNETES.major && minor! >= oldestMinor && minor! <= newestMinor;
}
