#!/usr/bin/env node
// Writes packages/api/herd.schema.json, the JSON Schema editors use, and plan.schema.json
// (`herd plan --output json`), from their one definition in packages/api (build first).
// A test checks the checked-in files are current.
import { writeFileSync } from 'node:fs';
import { editorJsonSchema, planJsonSchema } from '@herd/api';

const out = new URL('../packages/api/herd.schema.json', import.meta.url);
writeFileSync(out, JSON.stringify(editorJsonSchema(), null, 2) + '\n');
writeFileSync(new URL('../packages/api/plan.schema.json', import.meta.url), JSON.stringify(planJsonSchema(), null, 2) + '\n');
