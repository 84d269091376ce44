#!/usr/bin/env node
// Writes packages/api/herd.schema.json, the JSON Schema editors use, from the one schema
// definition in packages/api (build first). A test checks the checked-in file is current.
import { writeFileSync } from 'node:fs';
import { editorJsonSchema } from '@herd/api';

const out = new URL('../packages/api/herd.schema.json', import.meta.url);
writeFileSync(out, JSON.stringify(editorJsonSchema(), null, 2) + '\n');
