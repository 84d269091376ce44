export * from './schema.js';
export * from './formats.js';
export { validate, formatPath, type Issue, type PathSegment, type Mode } from './validate.js';
export { SourceDocument, formatSpecError, type SpecError } from './document.js';
export { loadRepository, isSpecFile, type LoadOptions, type Repository, type RepositoryFile, type ResolvedCluster } from './repository.js';
export { mergeLayers } from './merge.js';
export { editorJsonSchema } from './jsonschema.js';
