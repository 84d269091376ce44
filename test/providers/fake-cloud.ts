/**
 * FakeCloudProvider: a stand-in for a cloud API, which cannot exist here. Its "cloud" is a
 * map shared by every provider instance over it (so a restarted coordinator lists what
 * exists), and "installing the agent" starts a real @herd/agent in this process that enrolls
 * with the real coordinator over gRPC. The agent's converge engine is a recording fake: a
 * machine of this cloud has no OS to change.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, AgentState, enroll } from '@herd/agent';
import type { ConvergeEngine, RoundOptions, RoundReport } from '@herd/converge';
import type { NodeSpec__Output } from '@herd/proto';
import { MachineNotFoundError, QuotaExceededError, type AgentInstall, type Machine, type MachineRequest, type Provider } from '@herd/provider';
import { nodeFileSystem, silentLogger, systemClock } from '@herd/sys';

export class RecordingEngine implements ConvergeEngine {
  readonly specs: NodeSpec__Output[] = [];
  async round(spec: NodeSpec__Output, _options: RoundOptions = {}): Promise<RoundReport> {
    this.specs.push(spec);
    return { conditions: [{ type: 'Packages', status: 'True', reason: 'Converged', message: '' }], drift: [], converged: true, changed: false, rebootRequired: false, durationMs: 1 };
  }
  get last(): NodeSpec__Output | undefined { return this.specs.at(-1); }
}

interface CloudMachine { machine: Machine; agent?: { engine: RecordingEngine; stop(): Promise<void> } }

export class FakeCloud {
  readonly machines = new Map<string, CloudMachine>();
  private next = 1;
  private readonly dirs: string[] = [];
  /** Agents still enrolling. */
  readonly starting = new Set<Promise<unknown>>();
  constructor(readonly quota = 50) {}

  provider(): Provider {
    const cloud = this;
    return {
      kind: 'fake-cloud',
      async list(selector) {
        return [...cloud.machines.values()].map((m) => structuredClone(m.machine))
          .filter((m) => Object.entries(selector).every(([k, v]) => m.labels[k] === v));
      },
      newMachineName(cluster, pool, taken) {
        let name: string;
        do name = `${cluster}-${pool}-${cloud.next++}`; while (taken.has(name) || cloud.machines.has(name));
        return name;
      },
      async create(request: MachineRequest) {
        const existing = cloud.machines.get(request.name);
        if (existing) return structuredClone(existing.machine);
        if (cloud.machines.size >= cloud.quota) throw new QuotaExceededError(`fake cloud quota of ${cloud.quota} machines reached`);
        const machine: Machine = { name: request.name, labels: { ...request.labels }, addresses: [`192.0.2.${cloud.machines.size + 1}`], state: 'running', createdAt: new Date().toISOString() };
        cloud.machines.set(request.name, { machine });
        return structuredClone(machine);
      },
      async delete(name) {
        const entry = cloud.machines.get(name);
        if (!entry) return;
        await entry.agent?.stop();
        cloud.machines.delete(name);
      },
      async installAgent(name, install: AgentInstall) {
        const entry = cloud.machines.get(name);
        if (!entry) throw new MachineNotFoundError(name);
        if (entry.agent) return;
        // Awaited by close(): an agent still enrolling would write into a directory being removed.
        const starting = cloud.startAgent(install);
        cloud.starting.add(starting);
        try {
          entry.agent = await starting;
        } finally {
          cloud.starting.delete(starting);
        }
        // Deleted while its agent enrolled: nothing would stop that agent later.
        if (cloud.machines.get(name) !== entry) await entry.agent.stop();
      },
      async coordinatorHost() { return '127.0.0.1'; },
      async close() {},
    };
  }

  private async startAgent(install: AgentInstall) {
    const dir = await mkdtemp(join(tmpdir(), 'herd-fake-machine-'));
    this.dirs.push(dir);
    const state = new AgentState(nodeFileSystem(), dir);
    const credentials = await enroll({ coordinator: install.coordinator, token: install.token, caHash: install.caHash });
    await state.saveCredentials(credentials);
    const engine = new RecordingEngine();
    const agent = new Agent({
      credentials, state, engine, clock: systemClock, logger: silentLogger(),
      facts: async () => ({ os: 'FakeCloud', osVersion: '1', kernel: 'none', arch: 'x64', cpus: 1, memoryBytes: 1, hostname: credentials.node, addresses: [] }),
      intervalMs: 60_000, heartbeatMs: Number(process.env.FAKE_CLOUD_HEARTBEAT_MS ?? 100), backoff: { initialMs: 20, maxMs: 200 },
    });
    const stop = new AbortController();
    const running = agent.run(stop.signal);
    return { engine, stop: async () => { stop.abort(); await running; } };
  }

  engine(name: string): RecordingEngine | undefined {
    return this.machines.get(name)?.agent?.engine;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.starting]);
    for (const m of this.machines.values()) await m.agent?.stop();
    for (const d of this.dirs) await rm(d, { recursive: true, force: true });
  }
}
