import type { Condition, Drift, NodeSpec__Output } from '@herd/proto';
import type { Clock, Executor, ExecResult, FileSystem, Logger } from '@herd/sys';
import { canRepair, Reason, reasonFor, TIMEOUTS, type Item, type RoundState, type Step, type StepContext } from './step.js';
import { memoryStore, type Memory } from './memory.js';
import { defaultSteps } from './steps/index.js';
import { rebootRequired } from './reboot.js';

/** What one converge round found and did. The agent turns it into a NodeStatus. */
export interface RoundReport {
  /** One condition per step, in step order (Cluster API style: type, status, reason, message). */
  conditions: Condition[];
  /** Corrections made because the machine had moved away from the spec. */
  drift: Drift[];
  /** True when every step ended ok or changed (nothing failed, nothing skipped). */
  converged: boolean;
  /** True when anything on the machine was changed (always false in dry run). */
  changed: boolean;
  rebootRequired: boolean;
  /** The first failure, for NodeStatus.last_error. */
  error?: string;
  durationMs: number;
  /** Every change made, or in dry run every change that would be made, as "Step: what". */
  actions?: string[];
  /** How long each step took (observe + apply), for metrics. */
  stepDurationsMs?: Record<string, number>;
}

export interface RoundOptions {
  /** Observe and report what would change; change nothing. */
  dryRun?: boolean;
  signal?: AbortSignal;
}

/** The agent's view of the converge engine: one round brings the machine towards `spec`. */
export interface ConvergeEngine {
  round(spec: NodeSpec__Output, options?: RoundOptions): Promise<RoundReport>;
}

export interface EngineOptions {
  executor: Executor;
  fs: FileSystem;
  logger: Logger;
  clock: Clock;
  /** Where the engine remembers what it converged (default /var/lib/herd). */
  stateDir?: string;
  /** The steps, in order (default: every OS step, see defaultSteps()). */
  steps?: readonly Step[];
}

const MAX_MESSAGE = 4000;

interface StepOutcome {
  condition: Omit<Condition, 'lastTransitionTime'>;
  drift: Drift[];
  actions: string[];
  changed: boolean;
}

export function createEngine(options: EngineOptions): ConvergeEngine {
  const { executor, fs, logger, clock } = options;
  const stateDir = options.stateDir ?? '/var/lib/herd';
  const steps = options.steps ?? defaultSteps();
  const store = memoryStore(fs, stateDir, logger);
  let memory: Memory | undefined;
  /**
   * Items a step could not change and only warned about, with what was found then. Not
   * retried while they stay as found (a container will not load modules on the next round
   * either), so a no-op round runs no command; kept in memory only, so a restart retries.
   */
  const warned = new Map<string, Map<string, { found: string; message: string }>>();

  function contextFor(step: Step, dryRun: boolean, round: RoundState, actions: string[], warnings: Map<string, string>): StepContext {
    const log = logger.child({ step: step.name });
    const record = (what: string) => {
      actions.push(what);
      log.info({ dryRun }, dryRun ? `would ${what}` : what);
    };
    const inspect = (command: string, args: readonly string[], opts = {}) =>
      executor.run(command, args, { timeoutMs: TIMEOUTS.inspect, ...opts });
    return {
      files: fs,
      inspect,
      async execute(command, args, opts = {}): Promise<ExecResult> {
        record(`run ${[command, ...args].join(' ')}`);
        if (dryRun) return { command, args, exitCode: 0, stdout: '', stderr: '', durationMs: 0 };
        return executor.run(command, args, { timeoutMs: TIMEOUTS.change, ...opts });
      },
      async writeFile(path, content, opts = {}) {
        round.changedPaths.add(path);
        record(`write ${path}`);
        if (!dryRun) await fs.writeAtomic(path, content, opts);
      },
      async change(what, fn) {
        record(what);
        if (!dryRun) await fn(fs);
      },
      warn(item, message) {
        warnings.set(item, message);
        log.warn({ item }, message);
      },
      round,
      dryRun,
      logger: log,
    };
  }

  async function runStep(step: Step, spec: NodeSpec__Output, dryRun: boolean, round: RoundState, mem: Memory): Promise<StepOutcome> {
    const actions: string[] = [];
    const warnings = new Map<string, string>();
    const ctx = contextFor(step, dryRun, round, actions, warnings);
    const type = step.name;
    // Items an apply was working on when it failed, or when the agent died, are applied again
    // even if they now look right: a config written just before its service failed to
    // restart must not pass for converged. Saved before applying, so a crash resumes too.
    const unfinished = new Set(mem.unfinished[type] ?? []);
    const remembered = mem.converged[type] ?? {};
    try {
      const repaired = canRepair(step) ? await step.repair(spec, ctx) : undefined;
      const items = await step.observe(spec, ctx);
      const differing = items.filter((i) => i.found !== i.set || unfinished.has(i.item));
      const toApply = differing.filter((i) => !stillWarned(type, i, warnings));
      if (toApply.length && !dryRun) {
        mem.unfinished[type] = [...new Set([...unfinished, ...toApply.map((i) => i.item)])];
        await store.save(mem);
      }
      if (toApply.length) await step.apply(toApply, ctx);
      if (!dryRun) {
        delete mem.unfinished[type];
        warned.set(type, new Map([...warnings].map(([item, message]) => [item, { found: differing.find((i) => i.item === item)?.found ?? '', message }])));
        mem.converged[type] = Object.fromEntries(items.filter((i) => !warnings.has(i.item)).map((i) => [i.item, i.set]));
      }
      const changes = differing.filter((i) => !warnings.has(i.item));
      const drifted = changes.filter((c) => c.found !== c.set && remembered[c.item] === c.set);
      const acted = changes.length > 0 || repaired !== undefined;
      const lines = [
        ...(repaired ? [repaired] : []),
        ...changes.map(describeChange),
        ...[...warnings].map(([item, message]) => `warning: ${item}: ${message}`),
      ];
      if (dryRun && acted) {
        return { condition: { type, status: 'False', reason: Reason.WouldChange, message: clip([...lines, ...actions.map((a) => `would ${a}`)]) }, drift: [], actions, changed: false };
      }
      const reason = drifted.length ? Reason.DriftCorrected : acted ? Reason.Applied : Reason.Converged;
      const now = new Date(clock.now()).toISOString();
      return {
        condition: { type, status: 'True', reason, message: clip(lines) },
        drift: drifted.map((d) => ({ step: type, item: d.item, found: d.found, set: d.set, time: now })),
        actions,
        changed: acted && !dryRun,
      };
    } catch (e) {
      ctx.logger.error({ err: e }, `${type} failed`);
      // Whatever it did before failing still counts as a change the agent should report.
      const message = e instanceof Error ? e.message : String(e);
      return { condition: { type, status: 'False', reason: reasonFor(e), message: clip([message]) }, drift: [], actions, changed: actions.length > 0 && !dryRun };
    }
  }

  /** True (and the old warning carried over) when an item was warned about and is still found as it was. */
  function stillWarned(type: string, item: Item, warnings: Map<string, string>): boolean {
    const known = warned.get(type)?.get(item.item);
    if (known?.found !== item.found) return false;
    warnings.set(item.item, known.message);
    return true;
  }

  return {
    async round(spec, { dryRun = false, signal } = {}) {
      const started = clock.now();
      memory ??= await store.load();
      // Dry run works on a copy: it must not teach the engine anything it did not do.
      const mem: Memory = dryRun ? structuredClone(memory) : memory;
      const round: RoundState = { changedPaths: new Set(), aptSourcesChanged: false };
      const outcomes = new Map<string, StepOutcome>();
      const durations: Record<string, number> = {};
      for (const step of steps) {
        const stepStarted = clock.now();
        const blocked = (step.dependsOn ?? []).filter((d) => outcomes.get(d)?.condition.status === 'False' && outcomes.get(d)?.condition.reason !== Reason.WouldChange);
        let outcome: StepOutcome;
        if (signal?.aborted) {
          outcome = skipped(step.name, Reason.Aborted, 'round aborted before this step');
        } else if (blocked.length) {
          outcome = skipped(step.name, Reason.DependencyFailed, `skipped: ${blocked.join(', ')} did not converge`);
        } else {
          outcome = await runStep(step, spec, dryRun, round, mem);
        }
        outcomes.set(step.name, outcome);
        durations[step.name] = clock.now() - stepStarted;
      }

      const now = new Date(clock.now()).toISOString();
      const previous = new Map(mem.conditions.map((c) => [c.type, c]));
      const conditions: Condition[] = [...outcomes.values()].map(({ condition }) => {
        const before = previous.get(condition.type!);
        const lastTransitionTime = before && before.status === condition.status ? before.lastTransitionTime : now;
        return { ...condition, lastTransitionTime };
      });
      const failed = conditions.find((c) => c.status === 'False' && c.reason !== Reason.WouldChange);
      const report: RoundReport = {
        conditions,
        drift: [...outcomes.values()].flatMap((o) => o.drift),
        converged: conditions.every((c) => c.status === 'True'),
        changed: [...outcomes.values()].some((o) => o.changed),
        rebootRequired: await rebootRequired(fs, logger),
        durationMs: 0,
        actions: [...outcomes].flatMap(([name, o]) => o.actions.map((a) => `${name}: ${dryRun ? 'would ' : ''}${a}`)),
        stepDurationsMs: durations,
      };
      if (failed) report.error = `${failed.type}: ${failed.message}`;
      if (!dryRun) {
        mem.conditions = conditions;
        await store.save(mem);
      }
      report.durationMs = clock.now() - started;
      logger.info({ dryRun, converged: report.converged, changed: report.changed, drift: report.drift.length, durationMs: report.durationMs }, 'converge round');
      return report;
    },
  };
}

function skipped(type: string, reason: string, message: string): StepOutcome {
  return { condition: { type, status: 'False', reason, message }, drift: [], actions: [], changed: false };
}

function describeChange(change: Item): string {
  if (change.found === change.set) return `${change.item}: applied again (the last attempt failed)`;
  return `${change.item}: ${change.found} -> ${change.set}`;
}

function clip(lines: string[]): string {
  const text = lines.join('\n');
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 15)}\n…(truncated)` : text;
}
