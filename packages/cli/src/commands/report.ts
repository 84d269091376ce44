import { escapeText, type ProfileOverride } from '@herd/api';
import { UsageError } from '@herd/sys';
import { defineCommand, outputFormat, outputOption } from '../command.js';
import { plural, readRepositoryArg, snapshotAt, writeSpecErrors } from './validate.js';

/** A value as JSON, so `1` and `"1"` (a different sysctl value) read apart; escaped and cut for a terminal. */
function shown(value: unknown): string {
  return escapeText(JSON.stringify(value));
}

function overrideLine(file: string, o: ProfileOverride): string {
  const profile = o.profile === undefined ? 'not in the profile' : `profile ${shown(o.profile)}`;
  return `  ${escapeText(file)}:${o.line}:${o.column}: ${o.field}: ${profile}, cluster ${shown(o.cluster)}\n`;
}

export const reportCommand = defineCommand({
  name: 'report',
  summary: 'Show how each cluster of a repository differs from its profile, field by field, with file and line',
  usage: 'herd report [REPO] [--ref REF] [--output text|json]',
  options: {
    ref: { type: 'string' },
    ...outputOption,
  },
  async run({ values, positionals, stdout, stderr }) {
    const format = outputFormat(values.output);
    if (positionals.length > 1) throw new UsageError(`expected at most one REPO, got ${positionals.length}\nusage: ${this.usage}`);
    const snapshot = await readRepositoryArg(positionals[0] ?? '.', values.ref as string | undefined);
    // A repository that does not validate has no resolved clusters to compare: its errors, as `herd validate` prints them.
    const valid = snapshot.errors.length === 0;
    const clusters = valid ? snapshot.clusters : [];

    if (format === 'json') {
      stdout.write(JSON.stringify({
        valid,
        source: snapshot.source,
        commit: snapshot.commit ?? null,
        clusters: clusters.map((c) => ({
          name: c.cluster.metadata.name,
          file: c.file,
          profile: c.cluster.spec.profile ?? null,
          profileFile: c.profileFile ?? null,
          overrides: (c.overrides ?? []).map((o) => ({ ...o, profile: o.profile ?? null })),
        })),
        errors: snapshot.errors,
      }, null, 2) + '\n');
      return valid ? 0 : 1;
    }
    if (!valid) {
      writeSpecErrors(snapshot, { stdout, stderr });
      return 1;
    }
    for (const c of clusters) {
      const name = c.cluster.metadata.name;
      if (!c.profileFile) {
        stdout.write(`${name}: no profile (${escapeText(c.file)})\n`);
        continue;
      }
      const overrides = c.overrides ?? [];
      stdout.write(`${name}: profile ${c.cluster.spec.profile} (${escapeText(c.profileFile)}), ${plural(overrides.length, 'field')} differ${overrides.length === 1 ? 's' : ''}\n`);
      for (const o of overrides) stdout.write(overrideLine(c.file, o));
    }
    const profiled = clusters.filter((c) => c.profileFile).length;
    stdout.write(`${plural(clusters.length, 'cluster')} (${snapshotAt(snapshot)}): ${profiled} with a profile, ${clusters.length - profiled} without\n`);
    return 0;
  },
});
