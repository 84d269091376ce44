/**
 * `herd plan --output json`: a stable document for pull-request bots and scripts, defined
 * once here. packages/api/plan.schema.json is written from it (scripts/gen-schema.mjs) and
 * docs/plan.md explains each field. Fields are only ever added within `herd.dev/plan/v1`.
 */
import { Type, type Static } from '@sinclair/typebox';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const PLAN_FORMAT = 'herd.dev/plan/v1';

const Hold = Type.Object({
  subject: Nullable(Type.String({ description: 'The machine or pool it concerns; null for the whole cluster.' })),
  reason: Type.String(),
}, { additionalProperties: false });

const Budget = Type.Object({
  allowed: Type.Boolean({ description: 'True when no PodDisruptionBudget refuses an eviction of this drain now.' }),
  blockedBy: Nullable(Type.String({ description: 'namespace/name of the budget that refuses.' })),
  never: Type.Boolean({ description: 'The budget can never allow it (as configured): the drain would fail, not wait.' }),
  message: Type.String(),
}, { additionalProperties: false });

const PlannedAction = Type.Object({
  type: Type.Union(['create', 'init', 'join', 'upgrade', 'reboot', 'remove', 'uncordon', 'forget'].map((t) => Type.Literal(t))),
  /** The machine (or, for forget, the node) it acts on; for create, the name it will have. */
  machine: Type.String(),
  pool: Nullable(Type.String()),
  role: Nullable(Type.Union([Type.Literal('control-plane'), Type.Literal('worker')])),
  reason: Type.String(),
  /** upgrade: the version and `apply` (the first control plane) or `node`; remove: why. */
  version: Nullable(Type.String()),
  mode: Nullable(Type.Union([Type.Literal('apply'), Type.Literal('node')])),
  cause: Nullable(Type.String()),
  steps: Type.Array(Type.String(), { description: 'What the action does, in order (cordon, drain, kubeadm upgrade, …).' }),
  etcd: Nullable(Type.Union([Type.Literal('add'), Type.Literal('remove'), Type.Literal('down')], { description: 'Its effect on etcd membership, for a control plane.' })),
  unschedulable: Type.Array(Type.String(), { description: 'Nodes unschedulable while it runs, this one included (nodes already out of service count).' }),
  evictions: Nullable(Type.Array(Type.String(), { description: 'namespace/name of the pods its drain evicts, as they are placed now; null when unknown (no API, or a node that does not exist yet).' })),
  disruptionBudgets: Nullable(Budget),
  estimateSeconds: Nullable(Type.Number({ description: 'The median of the durations herd measured for this kind of action; null before it measured one.' })),
}, { additionalProperties: false });

const Step = Type.Object({
  actions: Type.Array(PlannedAction, { description: 'What starts together.' }),
  holds: Type.Array(Hold, { description: 'What the planner held back at that point, and why.' }),
  estimateSeconds: Nullable(Type.Number({ description: 'The longest of its actions (they run at once).' })),
}, { additionalProperties: false });

const Change = Type.Object({
  path: Type.String({ description: 'The field, like spec.kubernetes.version or spec.pools[workers].replicas.' }),
  from: Type.Optional(Type.Unknown({ description: 'In the commit in force; absent when the field is new.' })),
  to: Type.Optional(Type.Unknown({ description: 'In the planned commit; absent when the field goes.' })),
}, { additionalProperties: false });

const ClusterPlan = Type.Object({
  name: Type.String(),
  change: Type.Union([Type.Literal('create'), Type.Literal('update'), Type.Literal('none')], { description: 'create: no machine exists yet.' }),
  specChanges: Type.Array(Change, { description: 'How the planned commit changes the cluster (its profile applied) from the commit in force.' }),
  observed: Type.Object({
    at: Type.String({ description: 'RFC 3339.' }),
    agents: Type.Union([Type.Literal('live'), Type.Literal('recorded'), Type.Literal('none')], { description: "live: from the running coordinator's sessions; recorded: the last status of a coordinator that no longer runs." }),
    kubernetesApi: Type.Boolean({ description: 'The API server answered.' }),
    machines: Type.Number(),
  }, { additionalProperties: false }),
  steps: Type.Array(Step),
  remaining: Type.Array(Hold, { description: 'What still holds once nothing more can start: the commit will not converge by itself.' }),
  truncated: Type.Boolean(),
  estimateSeconds: Nullable(Type.Number({ description: 'Sum of the steps; null when a step has no estimate.' })),
  error: Nullable(Type.String({ description: 'Why this cluster could not be planned (its provider or API failed); exit code 1.' })),
}, { additionalProperties: false });

export const PlanDocument = Type.Object({
  format: Type.Literal(PLAN_FORMAT),
  source: Type.String(),
  ref: Nullable(Type.String()),
  commit: Nullable(Type.String({ description: 'The planned commit; null for a working tree.' })),
  inForce: Nullable(Type.String({ description: 'The commit in force (the last good one recorded in the state directory); null when none.' })),
  changes: Type.Boolean({ description: 'Some cluster has an action: exit code 2.' }),
  clusters: Type.Array(ClusterPlan),
}, { additionalProperties: false, $id: 'https://herd.dev/schemas/plan_v1.json', title: 'herd plan --output json' });

export type PlanDocument = Static<typeof PlanDocument>;
export type PlanCluster = Static<typeof ClusterPlan>;
export type PlanStep = Static<typeof Step>;
export type PlanAction = Static<typeof PlannedAction>;

/** The document's JSON Schema, as published in packages/api/plan.schema.json. */
export function planJsonSchema(): object {
  return { $schema: 'http://json-schema.org/draft-07/schema#', ...JSON.parse(JSON.stringify(PlanDocument)) };
}
