/**
 * The allocator: decides which resources to offer to which framework role, per agent.
 *
 * It is event driven and batched: anything that may make an offer possible (a subscription, a
 * REVIVE, freed resources, a new agent, an expiring filter) calls `schedule()`, and at most one
 * allocation cycle runs per `intervalMs`. A cycle looks only at per-agent aggregates
 * (`total − used − offered`), never at individual tasks.
 *
 * Fairness policy: round-robin. A framework role takes everything it may use on an agent (one
 * offer per agent and role, as Mesos does). Which framework goes first rotates with the agent
 * (agent k of cycle c starts with framework (c + k) mod n), so frameworks spread over agents
 * within a cycle, and over consecutive cycles every framework gets to go first on every agent.
 * Simpler than Mesos' DRF, but starvation-free.
 */

import type { Logger } from '@mesoskit/protocol';
import {
  containsResources,
  type mesos,
  reservationRole,
  scalarOf,
  subtractResources,
} from '@mesoskit/protocol';
import { type AgentEntry, type FilterEntry, type FrameworkEntry, hasCapability } from './model.js';
import { isAllocatable } from './resources.js';

type Resource = mesos.v1.Resource;

/** One offer the allocator decided to make. */
export interface Allocation {
  agent: AgentEntry;
  role: string;
  resources: Resource[];
}

export interface AllocatorHost {
  agents(): Iterable<AgentEntry>;
  /** Frameworks that are subscribed (connected), in subscription order. */
  activeFrameworks(): FrameworkEntry[];
  /** Turns the allocations into offers and sends them (one OFFERS event per framework). */
  offer(framework: FrameworkEntry, allocations: Allocation[]): void;
  now(): number;
}

/** Mesos' `Filters.refuse_seconds` rules: default 5 s, negative → 5 s, capped at 365 days. */
export function refuseMs(filters: mesos.v1.Filters | undefined): number {
  const DEFAULT = 5;
  const MAX = 365 * 24 * 3600;
  let s = filters?.refuse_seconds ?? DEFAULT;
  if (!Number.isFinite(s) && s > 0) s = MAX;
  if (Number.isNaN(s) || s < 0) s = DEFAULT;
  return Math.min(s, MAX) * 1000;
}

/** Cycles kept for the `allocation_run_ms` statistics (Mesos' timers keep a window too). */
const TIMING_WINDOW = 1000;

export class Allocator {
  readonly #host: AllocatorHost;
  readonly #intervalMs: number;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #filterTimers = new Set<NodeJS.Timeout>();
  #lastRun = Number.NEGATIVE_INFINITY;
  #cycle = 0;
  #stopped = false;
  /** Durations (ms) of the latest cycles, oldest first (at most `TIMING_WINDOW`). */
  #durations: number[] = [];
  #runs = 0;

  constructor(host: AllocatorHost, intervalMs: number, logger: Logger) {
    this.#host = host;
    this.#intervalMs = intervalMs;
    this.#logger = logger;
  }

  /** Requests an allocation cycle: at once if none ran within the interval, else at the next slot. */
  schedule(): void {
    if (this.#stopped || this.#timer) return;
    const delay = Math.max(0, this.#lastRun + this.#intervalMs - this.#host.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#lastRun = this.#host.now();
      try {
        this.allocate();
      } catch (err) {
        this.#logger.error('allocation cycle failed', { error: String(err) });
      }
    }, delay);
  }

  /** Adds a refusal filter and arranges a cycle for when it expires. */
  addFilter(framework: FrameworkEntry, filter: Omit<FilterEntry, 'expiresAt'>, ms: number): void {
    if (ms <= 0 || filter.resources.length === 0) return;
    const now = this.#host.now();
    framework.filters = framework.filters.filter((f) => f.expiresAt > now);
    framework.filters.push({ ...filter, expiresAt: now + ms });
    if (this.#stopped) return;
    const t = setTimeout(() => {
      this.#filterTimers.delete(t);
      this.schedule();
    }, ms);
    this.#filterTimers.add(t);
  }

  /** Removes the filters of the given roles (all roles when undefined). */
  clearFilters(framework: FrameworkEntry, roles?: readonly string[]): void {
    framework.filters = roles ? framework.filters.filter((f) => !roles.includes(f.role)) : [];
  }

  #filtered(framework: FrameworkEntry, agentId: string, role: string, resources: Resource[]): boolean {
    const now = this.#host.now();
    framework.filters = framework.filters.filter((f) => f.expiresAt > now);
    return framework.filters.some(
      (f) => f.agentId === agentId && f.role === role && containsResources(f.resources, resources),
    );
  }

  /**
   * Cycle timings, as Mesos' `allocator/mesos/allocation_runs` and the
   * `allocator/mesos/allocation_run_ms` timer (the latest cycle, and statistics over the latest
   * `TIMING_WINDOW` cycles). Only cycles with at least one subscribed framework count.
   */
  metrics(): Record<string, number> {
    const sorted = [...this.#durations].sort((a, b) => a - b);
    const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
    const metrics: Record<string, number> = {
      'allocator/mesos/allocation_runs': this.#runs,
      'allocator/mesos/allocation_run_ms': this.#durations.at(-1) ?? 0,
    };
    if (sorted.length > 0) {
      metrics['allocator/mesos/allocation_run_ms/count'] = sorted.length;
      metrics['allocator/mesos/allocation_run_ms/min'] = sorted[0]!;
      metrics['allocator/mesos/allocation_run_ms/max'] = sorted.at(-1)!;
      metrics['allocator/mesos/allocation_run_ms/p50'] = at(0.5);
      metrics['allocator/mesos/allocation_run_ms/p90'] = at(0.9);
      metrics['allocator/mesos/allocation_run_ms/p99'] = at(0.99);
    }
    return metrics;
  }

  /** Runs one allocation cycle now (timed, offers sent included). */
  allocate(): void {
    const frameworks = this.#host.activeFrameworks();
    if (frameworks.length === 0) return;
    const start = performance.now();
    try {
      this.#allocate(frameworks);
    } finally {
      this.#runs++;
      this.#durations.push(performance.now() - start);
      if (this.#durations.length > TIMING_WINDOW) this.#durations.shift();
    }
  }

  #allocate(frameworks: FrameworkEntry[]): void {
    const cycle = this.#cycle++;
    const batches = new Map<FrameworkEntry, Allocation[]>();
    let k = 0;
    for (const agent of this.#host.agents()) {
      if (!agent.connected) continue;
      const start = (cycle + k++) % frameworks.length;
      const order = [...frameworks.slice(start), ...frameworks.slice(0, start)];
      let available: Resource[];
      try {
        available = subtractResources(subtractResources(agent.total, agent.used), agent.offered);
      } catch (err) {
        this.#logger.error('agent resource accounting is inconsistent', {
          agentId: agent.id,
          error: String(err),
        });
        continue;
      }
      for (const framework of order) {
        for (const role of framework.roles) {
          if (framework.suppressed.has(role)) continue;
          const candidates = available.filter((r) => {
            const reserved = reservationRole(r);
            return reserved === '*' || reserved === role;
          });
          if (!isAllocatable(candidates)) continue;
          // Agents with GPUs are only offered to frameworks that can use them (Mesos' default).
          if (scalarOf(candidates, 'gpus') > 0 && !hasCapability(framework.info, 'GPU_RESOURCES')) continue;
          if (this.#filtered(framework, agent.id, role, candidates)) continue;
          available = subtractResources(available, candidates);
          let batch = batches.get(framework);
          if (!batch) {
            batch = [];
            batches.set(framework, batch);
          }
          batch.push({ agent, role, resources: candidates });
        }
      }
    }
    for (const [framework, allocations] of batches) this.#host.offer(framework, allocations);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const t of this.#filterTimers) clearTimeout(t);
    this.#filterTimers.clear();
  }
}
