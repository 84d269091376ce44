import { editorJsonSchema } from '@herd/api';
import { UsageError } from '@herd/sys';
import { defineCommand } from '../command.js';

export const schemaCommand = defineCommand({
  name: 'schema',
  summary: 'Print the JSON Schema of herd.dev/v1 files, for editors (yaml-language-server)',
  usage: 'herd schema',
  options: {},
  async run({ positionals, stdout }) {
    if (positionals.length) throw new UsageError(`herd schema takes no arguments\nusage: ${this.usage}`);
    stdout.write(JSON.stringify(editorJsonSchema(), null, 2) + '\n');
    return 0;
  },
});
