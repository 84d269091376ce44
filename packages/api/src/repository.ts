/**
 * Turns the files of a herd repository into validated, resolved clusters, or into errors
 * that say file, line and field. Pure: the caller (the Git source, a test) supplies the files.
 */
import { posix } from 'node:path';
import { safeSpecError, SourceDocument, type SpecError } from './document.js';
import { layerOverrides, mergeLayers } from './merge.js';
import { clusterRules, transitionRules, type ProviderCapacity } from './rules.js';
import { quote } from './text.js';
import { API_VERSION, ClusterSpec, KINDS, type Cluster, type Kind, type Profile } from './schema.js';
import { describe, formatPath, isPlainObject, validate, type Issue, type PathSegment } from './validate.js';

export interface RepositoryFile {
  /** Path relative to the repository root, with forward slashes. */
  path: string;
  text: string;
}

export interface ResolvedCluster {
  /** The cluster's file, and its profile's when it has one. */
  file: string;
  profileFile?: string;
  /** Profile and every default applied. */
  cluster: Cluster;
  /** With a profile: each field the cluster file sets that differs from the profile (`herd report`). */
  overrides?: ProfileOverride[];
}

/** A value a cluster file sets over its profile's, and where in the cluster file it is written. */
export interface ProfileOverride {
  /** Dotted path, as errors name fields (`spec.kubernetes.version`). */
  field: string;
  /** The profile's value as written; undefined when the profile does not set it (the cluster adds it). */
  profile: unknown;
  cluster: unknown;
  line: number;
  column: number;
}

export interface Repository {
  /** Clusters without errors, by name. */
  clusters: ResolvedCluster[];
  profiles: { file: string; profile: Profile }[];
  /** Every problem found, in file order. Empty means the repository is valid. */
  errors: SpecError[];
}

const DIRECTORY_OF: Record<Kind, string> = { Cluster: 'clusters', Profile: 'profiles' };

/** Files herd reads: YAML below clusters/ and profiles/. Everything else in the repository is left alone. */
export function isSpecFile(path: string): boolean {
  return /^(clusters|profiles)\/[^]+\.ya?ml$/.test(path);
}

const SAFE_PATH = /^[A-Za-z0-9._/-]+$/;

/**
 * Why herd refuses a path below clusters/ or profiles/ (a file it would read or a folder on
 * the way), or undefined. A name herd could not print on one line (a newline, a terminal
 * escape) is refused rather than skipped, so nothing in it is silently ignored.
 */
export function refusePath(path: string): string | undefined {
  if (!SAFE_PATH.test(path)) return `herd reads only file and folder names of letters, digits, ".", "_" and "-"; rename ${quote(path, 200)}`;
  return undefined;
}

interface Parsed { document: SourceDocument; kind: Kind; name: string }

export interface LoadOptions {
  /** The repository in force: changes from it that cannot be made (a version skipping a minor) are errors. */
  previous?: Repository;
  /** Machines a cluster of each provider kind can hold, when less than LIMITS.machinesPerCluster. */
  providerCapacity?: ProviderCapacity;
  /** Entries the reader refused (a symlink, a FIFO, a file too large), reported with the rest. */
  refused?: SpecError[];
  /** Files clusters name (a static keyFile) that cannot be read, by path, with the reason; reported at the field. */
  namedFileProblems?: ReadonlyMap<string, string>;
}

export function loadRepository(files: readonly RepositoryFile[], options: LoadOptions = {}): Repository {
  const errors: SpecError[] = [];
  const parsed: Parsed[] = [];
  const broken = new Set<string>();

  for (const file of [...files].filter((f) => isSpecFile(f.path)).sort((a, b) => a.path.localeCompare(b.path))) {
    const refused = refusePath(file.path);
    if (refused) {
      errors.push({ file: file.path, line: 0, column: 0, field: '', message: refused });
      continue;
    }
    const result = SourceDocument.parse(file.path, file.text);
    errors.push(...result.errors);
    if (!result.document) continue;
    const header = checkHeader(result.document);
    if (header.issues.length) {
      errors.push(...header.issues.map((i) => result.document!.error(i)));
      continue;
    }
    const kind = header.kind!;
    const layer = validate(KINDS[kind], result.document.value, 'layer', 'spec');
    const issues = [...layer.issues, ...nameMatchesFile(result.document)];
    const name = String((result.document.value as { metadata?: { name?: unknown } }).metadata?.name ?? '');
    if (issues.length) {
      errors.push(...issues.map((i) => result.document!.error(i)));
      broken.add(`${kind}/${name}`);
    }
    parsed.push({ document: result.document, kind, name });
  }
  errors.push(...duplicateNames(parsed));

  const profiles = new Map(parsed.filter((p) => p.kind === 'Profile').map((p) => [p.name, p]));
  const clusters: ResolvedCluster[] = [];
  for (const entry of parsed.filter((p) => p.kind === 'Cluster' && !broken.has(`Cluster/${p.name}`))) {
    const previous = options.previous?.clusters.find((c) => c.cluster.metadata.name === entry.name)?.cluster.spec;
    const resolved = resolveCluster(entry, profiles, broken, previous, options);
    errors.push(...resolved.errors);
    if (resolved.cluster) clusters.push(resolved.cluster);
  }

  return {
    clusters: errors.length ? clusters.filter((c) => !errors.some((e) => e.file === c.file || e.file === c.profileFile)) : clusters,
    profiles: [...profiles.values()].filter((p) => !broken.has(`Profile/${p.name}`)).map((p) => ({ file: p.document.file, profile: p.document.value as Profile })),
    errors: sortErrors([...(options.refused ?? []), ...errors]).map(safeSpecError),
  };
}

/** File order, then position: the order every output prints errors in. */
export function sortErrors(errors: SpecError[]): SpecError[] {
  return errors.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}

function checkHeader(document: SourceDocument): { kind?: Kind; issues: Issue[] } {
  const value = document.value;
  if (!isPlainObject(value)) return { issues: [{ path: [], message: `expected a mapping with apiVersion, kind, metadata and spec, found ${describe(value)}` }] };
  if (value.apiVersion === undefined) return { issues: [{ path: [], message: `missing required field "apiVersion" (expected "${API_VERSION}")` }] };
  if (value.apiVersion !== API_VERSION) return { issues: [{ path: ['apiVersion'], message: `unsupported apiVersion ${describe(value.apiVersion)}; expected "${API_VERSION}"` }] };
  if (value.kind === undefined) return { issues: [{ path: [], message: 'missing required field "kind" (Cluster or Profile)' }] };
  const kind = value.kind as Kind;
  if (typeof value.kind !== 'string' || !(value.kind in KINDS)) return { issues: [{ path: ['kind'], message: `unknown kind ${describe(value.kind)}; expected Cluster or Profile` }] };
  const top = document.file.split('/')[0];
  if (top !== DIRECTORY_OF[kind]) {
    return { issues: [{ path: ['kind'], message: `a ${kind} belongs in ${DIRECTORY_OF[kind]}/, not in ${top}/` }] };
  }
  return { kind, issues: [] };
}

function nameMatchesFile(document: SourceDocument): Issue[] {
  const name = (document.value as { metadata?: { name?: unknown } }).metadata?.name;
  const stem = posix.basename(document.file).replace(/\.ya?ml$/, '');
  return typeof name === 'string' && name !== stem
    ? [{ path: ['metadata', 'name'], message: `name ${quote(name)} does not match the file name ${quote(posix.basename(document.file))}; name the file ${quote(`${name}.yaml`)} or the object ${quote(stem)}` }]
    : [];
}

function duplicateNames(parsed: Parsed[]): SpecError[] {
  const seen = new Map<string, string>();
  const errors: SpecError[] = [];
  for (const p of parsed) {
    const key = `${p.kind}/${p.name}`;
    const first = seen.get(key);
    if (first) errors.push(p.document.error({ path: ['metadata', 'name'], message: `${p.kind.toLowerCase()} ${quote(p.name)} is already defined in ${first}` }));
    else seen.set(key, p.document.file);
  }
  return errors;
}

function resolveCluster(entry: Parsed, profiles: Map<string, Parsed>, broken: Set<string>, previous: ClusterSpec | undefined, options: LoadOptions): { cluster?: ResolvedCluster; errors: SpecError[] } {
  const clusterDoc = entry.document;
  const raw = clusterDoc.value as { metadata: Cluster['metadata']; spec?: Record<string, unknown> };
  const spec = raw.spec ?? {};
  let profileDoc: SourceDocument | undefined;
  if (typeof spec.profile === 'string') {
    const profile = profiles.get(spec.profile);
    if (!profile) {
      const known = [...profiles.keys()];
      return { errors: [clusterDoc.error({ path: ['spec', 'profile'], message: `profile ${quote(spec.profile)} not found: expected profiles/${spec.profile}.yaml${known.length ? ` (profiles: ${known.join(', ')})` : ' (there are no profiles)'}` })] };
    }
    if (broken.has(`Profile/${spec.profile}`)) {
      return { errors: [clusterDoc.error({ path: ['spec', 'profile'], message: `profile "${spec.profile}" has errors (see ${profile.document.file}); this cluster cannot be resolved until they are fixed` })] };
    }
    profileDoc = profile.document;
  }

  const profileSpec = (profileDoc?.value as { spec?: unknown } | undefined)?.spec ?? {};
  const merged = mergeLayers(profileSpec, spec, ClusterSpec);
  const resolved = validate<ClusterSpec>(ClusterSpec, merged, 'resolved');
  const issues = resolved.issues.map((i) => ({ ...i, path: ['spec', ...i.path] }));
  if (issues.length === 0) issues.push(...clusterRules(resolved.value, options.providerCapacity), ...namedFileRules(resolved.value, options.namedFileProblems), ...(previous ? transitionRules(previous, resolved.value) : []));
  // A resolved field may come from the cluster file, from its profile, or from a default
  // (then the error points at the cluster file, where the operator would add it).
  const locate = (issue: Issue) => (profileDoc && !clusterDoc.has(issue.path) && profileDoc.has(issue.path) ? profileDoc : clusterDoc).error(issue);
  if (issues.length) return { errors: issues.map(locate) };

  const cluster: Cluster = { apiVersion: API_VERSION, kind: 'Cluster', metadata: { name: raw.metadata.name, labels: raw.metadata.labels ?? {} }, spec: resolved.value };
  const withProfile = profileDoc ? { profileFile: profileDoc.file, overrides: profileOverrides(profileSpec, spec, clusterDoc) } : {};
  return { cluster: { file: clusterDoc.file, ...withProfile, cluster }, errors: [] };
}

function profileOverrides(profileSpec: unknown, spec: Record<string, unknown>, clusterDoc: SourceDocument): ProfileOverride[] {
  return layerOverrides(profileSpec, spec, ClusterSpec)
    // Naming the profile is no difference from it.
    .filter((o) => o.path[0] !== 'profile')
    .map((o) => {
      const path = ['spec', ...o.path];
      return { field: formatPath(path), profile: o.base, cluster: o.override, ...clusterDoc.locate(path) };
    });
}

function namedFileRules(spec: ClusterSpec, problems?: ReadonlyMap<string, string>): Issue[] {
  const problem = spec.provider.kind === 'static' ? problems?.get(spec.provider.keyFile) : undefined;
  return problem ? [{ path: ['spec', 'provider', 'keyFile'], message: problem }] : [];
}

export type { PathSegment };
