export * from './schema.js';
export * from './formats.js';
export { validate, formatPath, type Issue, type PathSegment, type Mode } from './validate.js';
export { SourceDocument, formatSpecError, safeSpecError, type SpecError } from './document.js';
export {
  loadRepository, isSpecFile, refusePath, sortErrors, type LoadOptions, type ProfileOverride, type Repository, type RepositoryFile, type ResolvedCluster,
} from './repository.js';
export { layerOverrides, mergeLayers, type LayerOverride } from './merge.js';
export { editorJsonSchema } from './jsonschema.js';
export { LIMITS } from './limits.js';
export { escapeText, quote } from './text.js';
export { SUPPORTED_KUBERNETES, isSupportedKubernetes, supportedKubernetesText } from './versions.js';
export type { ProviderCapacity } from './rules.js';
export { PLAN_FORMAT, PlanDocument, planJsonSchema, type PlanAction, type PlanCluster, type PlanStep } from './plan.js';
