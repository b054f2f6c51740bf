/**
 * Offer packing as a pure function: agents (their offers summed) × queued tasks → placements.
 * {@link firstFit} is the default; a `TaskScheduler` takes any {@link PackingStrategy}.
 *
 * @module
 */
import type { mesos } from '@mesoskit/protocol';
import { addScalars, type ScalarName, type Scalars, shortOf } from './resources.js';

/** Where a task may run. Both parts must match. */
export interface TaskConstraints {
  /** The agent's hostname equals this string, or matches this pattern. */
  hostname?: string | RegExp;
  /**
   * Agent attributes (Mesos `--attributes`): each named attribute must exist and its text (or
   * scalar, as a string) equal the string or match the pattern.
   */
  attributes?: Readonly<Record<string, string | RegExp>>;
}

/** One agent's offers as the strategy sees them. */
export interface AgentCapacity {
  readonly agentId: string;
  readonly hostname: string;
  readonly attributes: readonly mesos.v1.Attribute[];
  /** The usable scalars of every offer of this agent, summed, in thousandths. */
  readonly available: Readonly<Scalars>;
  /** Names of the executors already running (or launched) on this agent. */
  readonly executors: ReadonlySet<string>;
}

/** One queued task as the strategy sees it. */
export interface PackableTask {
  /** Its resources, in thousandths. */
  readonly resources: Readonly<Scalars>;
  /** The executor it runs in, with that executor's own resources (charged once per agent). */
  readonly executor: { readonly name: string; readonly resources: Readonly<Scalars> };
  readonly constraints?: TaskConstraints | undefined;
}

/** Why a task stayed queued after a packing round. */
export type PendingReason =
  | {
      readonly type: 'insufficient';
      readonly resource: ScalarName;
      readonly needed: number;
      readonly largest: number;
    }
  | { readonly type: 'constraints'; readonly message: string }
  | { readonly type: 'no-offers' };

/** The strategy's answer: placements in launch order, and reasons for some tasks left queued. */
export interface Packing {
  /** `task` and `agent` are indexes into the inputs. A task appears at most once. */
  readonly placements: readonly { readonly task: number; readonly agent: number }[];
  /** Reasons by task index, for (some of) the tasks not placed. */
  readonly pending: ReadonlyMap<number, PendingReason>;
}

/**
 * A packing strategy: must be pure (no I/O, no mutation of its inputs). It must not overcommit
 * an agent: the scheduler checks every placement again and drops those that do not fit.
 */
export type PackingStrategy = (agents: readonly AgentCapacity[], tasks: readonly PackableTask[]) => Packing;

/** How many unplaced tasks get a computed reason per round (the rest just wait). */
const MAX_REASONS = 64;

function attributeText(a: mesos.v1.Attribute): string | undefined {
  if (a.text !== undefined) return a.text.value;
  if (a.scalar !== undefined) return String(a.scalar.value);
  if (a.set !== undefined) return (a.set.item ?? []).join(',');
  if (a.ranges !== undefined) return (a.ranges.range ?? []).map((r) => `[${r.begin}-${r.end}]`).join(',');
  return undefined;
}

function matches(pattern: string | RegExp, value: string): boolean {
  return typeof pattern === 'string' ? pattern === value : pattern.test(value);
}

/** Why `constraints` exclude `agent`, or `undefined` when they allow it. */
export function constraintMismatch(
  constraints: TaskConstraints | undefined,
  agent: Pick<AgentCapacity, 'hostname' | 'attributes'>,
): string | undefined {
  if (constraints === undefined) return undefined;
  if (constraints.hostname !== undefined && !matches(constraints.hostname, agent.hostname)) {
    return `hostname ${agent.hostname} does not match ${String(constraints.hostname)}`;
  }
  for (const [name, pattern] of Object.entries(constraints.attributes ?? {})) {
    const attribute = agent.attributes.find((a) => a.name === name);
    const text = attribute === undefined ? undefined : attributeText(attribute);
    if (text === undefined) return `attribute ${name} missing`;
    if (!matches(pattern, text)) return `attribute ${name}=${text} does not match ${String(pattern)}`;
  }
  return undefined;
}

/**
 * First fit: each task, in queue order, goes to the first agent with room for it (plus its
 * executor, when that executor is not on the agent yet). Agents are closed once they cannot fit
 * the smallest queued task, so a full cluster costs one pass over the agents, not over the queue.
 */
export const firstFit: PackingStrategy = (agents, tasks) => {
  const placements: { task: number; agent: number }[] = [];
  const pending = new Map<number, PendingReason>();
  if (agents.length === 0) {
    for (let t = 0; t < Math.min(tasks.length, MAX_REASONS); t++) pending.set(t, { type: 'no-offers' });
    return { placements, pending };
  }
  const left = agents.map((a) => ({ ...a.available }));
  const started = agents.map((a) => new Set(a.executors));
  const minCpus = tasks.reduce((m, t) => Math.min(m, t.resources.cpus), Number.POSITIVE_INFINITY);
  const minMem = tasks.reduce((m, t) => Math.min(m, t.resources.mem), Number.POSITIVE_INFINITY);
  let open = agents.map((_, i) => i);
  for (let t = 0; t < tasks.length && open.length > 0; t++) {
    const task = tasks[t]!;
    let placed = false;
    for (const a of open) {
      if (task.constraints !== undefined && constraintMismatch(task.constraints, agents[a]!) !== undefined)
        continue;
      const need = started[a]!.has(task.executor.name)
        ? task.resources
        : addScalars(task.resources, task.executor.resources);
      const have = left[a]!;
      if (shortOf(have, need) !== undefined) continue;
      have.cpus -= need.cpus;
      have.mem -= need.mem;
      have.disk -= need.disk;
      have.gpus -= need.gpus;
      started[a]!.add(task.executor.name);
      placements.push({ task: t, agent: a });
      placed = true;
      if (have.cpus < minCpus || have.mem < minMem) open = open.filter((i) => i !== a);
      break;
    }
    if (!placed && pending.size < MAX_REASONS) pending.set(t, reasonFor(task, agents, left));
  }
  return { placements, pending };
};

/** The reason `task` fits no agent: constraints everywhere, or the scarcest resource. */
function reasonFor(
  task: PackableTask,
  agents: readonly AgentCapacity[],
  left: readonly Scalars[],
): PendingReason {
  let constraintMessage: string | undefined;
  let best: PendingReason | undefined;
  for (let a = 0; a < agents.length; a++) {
    const mismatch = constraintMismatch(task.constraints, agents[a]!);
    if (mismatch !== undefined) {
      constraintMessage ??= mismatch;
      continue;
    }
    const need = agents[a]!.executors.has(task.executor.name)
      ? task.resources
      : addScalars(task.resources, task.executor.resources);
    const resource = shortOf(left[a]!, need) ?? 'cpus';
    const largest = Math.max(...left.map((l) => l[resource]));
    best ??= { type: 'insufficient', resource, needed: need[resource], largest };
  }
  return best ?? { type: 'constraints', message: constraintMessage ?? 'no agent matches' };
}

/** A one-line text for a pending reason, in Mesos units. */
export function describePending(reason: PendingReason): string {
  switch (reason.type) {
    case 'no-offers':
      return 'no offers';
    case 'constraints':
      return `no offered agent matches the constraints (${reason.message})`;
    case 'insufficient': {
      const unit = reason.resource === 'cpus' || reason.resource === 'gpus' ? '' : ' MB';
      return `not enough ${reason.resource}: needs ${reason.needed / 1000}${unit}, largest offer has ${reason.largest / 1000}${unit}`;
    }
  }
}
