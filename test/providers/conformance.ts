/**
 * The provider conformance suite: what every provider must do, whatever machines it makes.
 * A provider's test file calls `providerConformance` with a way to make the provider twice
 * over the same world (the second instance stands for a coordinator that restarted).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MachineNotFoundError, ProviderError, type Machine, type Provider } from '@herd/provider';

export interface ConformanceWorld {
  /** A provider over the world; calling it again gives a fresh instance over the same machines. */
  provider(): Promise<Provider>;
  /** The cluster name the world is set up for. */
  cluster: string;
  /** Removes whatever the suite left (also when it fails). */
  teardown(): Promise<void>;
}

const labels = (cluster: string, pool: string) => ({ 'herd.dev/cluster': cluster, 'herd.dev/pool': pool, 'herd.dev/role': 'worker', 'herd.dev/spec-hash': 'abc123' });

export function providerConformance(kind: string, setup: () => Promise<ConformanceWorld>): void {
  describe(`provider conformance: ${kind}`, () => {
    let world: ConformanceWorld;
    let provider: Provider;
    let first: Machine;

    before(async () => {
      world = await setup();
      provider = await world.provider();
    });
    after(async () => {
      await provider?.close();
      await world?.teardown();
    });

    it('creating the same name twice gives one machine, with its labels', async () => {
      const name = provider.newMachineName(world.cluster, 'pool-a', new Set());
      const request = { name, labels: labels(world.cluster, 'pool-a'), shape: {} };
      first = await provider.create(request);
      const again = await provider.create(request);
      assert.equal(again.name, first.name);
      const listed = await provider.list({ 'herd.dev/cluster': world.cluster });
      assert.deepEqual(listed.map((m) => m.name), [first.name]);
      assert.deepEqual(listed[0]!.labels, request.labels);
      assert.ok(listed[0]!.addresses.length > 0, 'a machine has an address');
      assert.ok(!Number.isNaN(Date.parse(listed[0]!.createdAt)), 'createdAt is a date');
    });

    it('machines created at the same time get distinct names and addresses', async () => {
      const taken = new Set([first.name]);
      const names = ['pool-b', 'pool-b', 'pool-b'].map((pool) => { const n = provider.newMachineName(world.cluster, pool, taken); taken.add(n); return n; });
      const made = await Promise.all(names.map((name) => provider.create({ name, labels: labels(world.cluster, 'pool-b'), shape: {} })));
      const addresses = [first, ...made].map((m) => m.addresses[0]);
      assert.equal(new Set(addresses).size, addresses.length, `addresses must differ: ${addresses.join(', ')}`);
      for (const m of made) await provider.delete(m.name);
    });

    it('a new name is never one that exists or is taken', async () => {
      const taken = new Set(['reserved-by-the-caller']);
      const name = provider.newMachineName(world.cluster, 'pool-a', taken);
      assert.ok(!taken.has(name));
      assert.notEqual(name, first.name);
    });

    it('list filters by every label of the selector', async () => {
      assert.equal((await provider.list({ 'herd.dev/cluster': world.cluster, 'herd.dev/pool': 'pool-a' })).length, 1);
      assert.equal((await provider.list({ 'herd.dev/cluster': world.cluster, 'herd.dev/pool': 'pool-b' })).length, 0);
      assert.equal((await provider.list({ 'herd.dev/cluster': `${world.cluster}-other` })).length, 0);
    });

    it('a restarted coordinator lists what exists, labels intact', async () => {
      const fresh = await world.provider();
      try {
        const listed = await fresh.list({ 'herd.dev/cluster': world.cluster });
        assert.deepEqual(listed.map((m) => [m.name, m.labels]), [[first.name, labels(world.cluster, 'pool-a')]]);
      } finally {
        await fresh.close();
      }
    });

    it('errors are typed: a missing machine is MachineNotFoundError', async () => {
      await assert.rejects(
        provider.installAgent('no-such-machine', { artifactDir: '/nonexistent', coordinator: '127.0.0.1:1', token: 'x', caHash: 'sha256:00' }),
        (e: unknown) => e instanceof MachineNotFoundError && e instanceof ProviderError,
      );
    });

    it('deleting twice is fine, and the machine is gone', async () => {
      await provider.delete(first.name);
      await provider.delete(first.name);
      await provider.delete('never-existed');
      assert.deepEqual(await provider.list({ 'herd.dev/cluster': world.cluster }), []);
    });
  });
}
