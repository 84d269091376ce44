/**
 * The JSON Schema editors use (yaml-language-server): the same definitions as the
 * validator, with every spec field optional (profiles and clusters set only what they
 * change) and the defaults kept as documentation.
 */
import { API_VERSION, Cluster, Profile } from './schema.js';

const EDITOR_ONLY_DROPPED = new Set(['expected', 'discriminator']);

function forEditor(schema: unknown, optional: boolean): unknown {
  if (Array.isArray(schema)) return schema.map((s) => forEditor(s, optional));
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (EDITOR_ONLY_DROPPED.has(key)) continue;
    if (key === 'required') {
      // Profiles and clusters set spec fields partially; elsewhere a field with a default may be left out.
      const properties = (schema as { properties?: Record<string, { default?: unknown }> }).properties ?? {};
      const required = (value as string[]).filter((name) => properties[name]?.default === undefined);
      if (!optional && required.length) out[key] = required;
      continue;
    }
    if (key === 'properties') {
      out[key] = Object.fromEntries(Object.entries(value as object).map(([name, child]) => [name, forEditor(child, optional || name === 'spec')]));
    } else if (key === 'items' || key === 'anyOf' || key === 'additionalProperties') {
      out[key] = forEditor(value, false);
    } else {
      out[key] = forEditor(value, optional);
    }
  }
  return out;
}

export function editorJsonSchema(): object {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://herd.dev/schemas/herd.dev_v1.json',
    title: `herd ${API_VERSION} Cluster or Profile`,
    type: 'object',
    required: ['apiVersion', 'kind'],
    properties: { apiVersion: { const: API_VERSION }, kind: { enum: ['Cluster', 'Profile'] } },
    allOf: [
      { if: { properties: { kind: { const: 'Cluster' } } }, then: forEditor(Cluster, false) },
      { if: { properties: { kind: { const: 'Profile' } } }, then: forEditor(Profile, false) },
    ],
  };
}
