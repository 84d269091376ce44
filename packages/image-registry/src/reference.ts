/**
 * Image references as containerd and docker read them, reduced to what a mirror needs: a
 * mirror serves `registry.k8s.io/kube-apiserver:v1.34.4` as `/v2/kube-apiserver/…`, the
 * path without the registry's host (containerd's hosts.toml mirrors ask for that path).
 */
export interface ImageReference {
  /** The registry's host (and port): registry.k8s.io, docker.io, 10.213.1.1:5000. */
  registry: string;
  /** The repository path inside it: kube-apiserver, library/busybox, flannel-io/flannel. */
  path: string;
  tag: string;
}

const PATH = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * Parses NAME:TAG with docker's defaults: a first component without a dot or colon (and
 * not `localhost`) is a path on docker.io, and a single component there is under `library/`.
 * Digest references are not accepted: what herd pushes is named by tag.
 */
export function parseReference(text: string): ImageReference {
  const colon = text.lastIndexOf(':');
  const slash = text.lastIndexOf('/');
  if (colon <= slash || text.includes('@')) throw new RangeError(`image reference "${text}" has no tag (expected NAME:TAG)`);
  const name = text.slice(0, colon);
  const tag = text.slice(colon + 1);
  const first = name.split('/')[0]!;
  const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = hasRegistry ? first : 'docker.io';
  let path = hasRegistry ? name.slice(first.length + 1) : name;
  if (registry === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  if (!PATH.test(path)) throw new RangeError(`image reference "${text}": "${path}" is not a repository path (lower-case components separated by /)`);
  if (!TAG.test(tag)) throw new RangeError(`image reference "${text}": "${tag}" is not a tag`);
  return { registry, path, tag };
}

/** Where a mirror keeps a reference: `registry.k8s.io/coredns/coredns:v1.12.1` → `coredns/coredns:v1.12.1`. */
export function mirrorPath(text: string): string {
  const { path, tag } = parseReference(text);
  return `${path}:${tag}`;
}
