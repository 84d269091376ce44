// The local provider against the conformance suite, on real nspawn machines (root).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalProvider } from '@herd/provider-local';
import { silentLogger } from '@herd/sys';
import { providerConformance } from './conformance.js';

providerConformance('local', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'herd-local-provider-'));
  const providers: LocalProvider[] = [];
  return {
    cluster: 'conformance',
    provider: async () => {
      const p = new LocalProvider({ dir, cluster: 'conformance', logger: silentLogger() });
      providers.push(p);
      return p;
    },
    teardown: async () => {
      // Whatever a failed test left: delete through the provider, then the directory.
      const p = providers[0] ?? new LocalProvider({ dir, cluster: 'conformance', logger: silentLogger() });
      for (const m of await p.list({})) await p.delete(m.name);
      for (const q of providers) await q.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
