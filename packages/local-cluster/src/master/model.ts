/**
 * The master's in-memory model: agents, frameworks, tasks, executors and offers. Aggregates
 * (`used`, `offered` per agent) are kept up to date incrementally so that an allocation cycle
 * never scans tasks.
 */
import type { ServerResponse } from 'node:http';
import type { mesos } from '@mesoskit/protocol';
import type { RecordIOResponse } from '../http.js';
import type { AgentApi } from '../link.js';

type Resource = mesos.v1.Resource;

export interface AgentEntry {
  id: string;
  hostname: string;
  ip: string;
  port: number;
  /** Total resources (book-keeping form: no allocation info). */
  total: Resource[];
  attributes: mesos.v1.Attribute[];
  api: AgentApi;
  /** Resources of live tasks and custom executors (book-keeping form). */
  used: Resource[];
  /** Resources in outstanding offers (book-keeping form). */
  offered: Resource[];
  /** Custom executors known to run here: framework id → executor id → executor. */
  executors: Map<string, Map<string, ExecutorEntry>>;
  /** KILLs that arrived while the agent was away; re-sent when it registers again. */
  pendingKills: { frameworkId: string; taskId: string; killPolicy?: mesos.v1.KillPolicy }[];
  /** False after `agentGone` or once unreachable, until the agent registers again. */
  connected: boolean;
  /** Marked unreachable by the health check (its tasks went TASK_UNREACHABLE / TASK_LOST). */
  unreachable?: boolean;
  /** Health check: a ping is out without its pong; consecutive pings without one. */
  pinged?: boolean;
  pingTimeouts?: number;
  pingTimer?: NodeJS.Timeout;
  /** Runs while a disconnected agent may still register again in time. */
  reregisterTimer?: NodeJS.Timeout;
  registeredTime: number;
}

export interface ExecutorEntry {
  info: mesos.v1.ExecutorInfo;
  /** Resources charged for the executor (book-keeping form). */
  resources: Resource[];
}

export interface TaskEntry {
  info: mesos.v1.TaskInfo;
  frameworkId: string;
  agentId: string;
  /** The custom executor's id; undefined for command tasks. */
  executorId?: string;
  role: string;
  /** The state of the last update forwarded for this task (as Mesos' master keeps it). */
  state: mesos.v1.TaskState;
  /** The state of the latest update forwarded to the scheduler (what reconciliation reports). */
  statusUpdateState?: mesos.v1.TaskState;
  statusUpdateUuid?: Uint8Array;
  /** Of the latest status received: what reconciliation answers repeat. */
  lastStatus?: Pick<mesos.v1.TaskStatus, 'healthy' | 'check_status' | 'container_status'>;
  statuses: { state: mesos.v1.TaskState; timestamp: number }[];
  /** Resources charged for the task (book-keeping form); released once the state is terminal. */
  resources: Resource[];
  released: boolean;
  /** Marked TASK_UNREACHABLE / TASK_LOST because its agent became unreachable. */
  unreachable?: boolean;
}

export interface OfferEntry {
  id: string;
  frameworkId: string;
  agentId: string;
  role: string;
  /** Book-keeping form (no allocation info). */
  resources: Resource[];
  timer?: NodeJS.Timeout;
}

export interface FilterEntry {
  agentId: string;
  role: string;
  /** Book-keeping form. */
  resources: Resource[];
  expiresAt: number;
}

export interface Subscription {
  streamId: string;
  stream: RecordIOResponse;
  /** The raw response, to cut the connection (fault injection). */
  response: ServerResponse;
  heartbeat?: NodeJS.Timeout;
}

export interface FrameworkEntry {
  id: string;
  info: mesos.v1.FrameworkInfo;
  roles: string[];
  suppressed: Set<string>;
  subscription?: Subscription;
  failoverTimer?: NodeJS.Timeout;
  tasks: Map<string, TaskEntry>;
  completedTasks: TaskEntry[];
  offers: Set<string>;
  filters: FilterEntry[];
  registeredTime: number;
  /** Rebuilt from a re-registering agent after a master restart; cleared when it subscribes. */
  recovered?: boolean;
  reregisteredTime?: number;
  unregisteredTime?: number;
  /**
   * Mesos' per-framework counters, by name under the framework's metric prefix (`calls/accept`,
   * `events/update`, `offers/sent`, `tasks/terminal/task_finished`, …); see `/metrics/snapshot`.
   */
  counters?: Map<string, number>;
}

/** Adds `n` to a per-framework counter. */
export function countFor(framework: FrameworkEntry, name: string, n = 1): void {
  framework.counters ??= new Map();
  const counters = framework.counters;
  counters.set(name, (counters.get(name) ?? 0) + n);
}

export interface CompletedFramework {
  id: string;
  info: mesos.v1.FrameworkInfo;
  completedTasks: TaskEntry[];
  unregisteredTime: number;
}

export function hasCapability(
  info: mesos.v1.FrameworkInfo,
  type: mesos.v1.FrameworkInfo.Capability.Type,
): boolean {
  return (info.capabilities ?? []).some((c) => c.type === type);
}

/** The roles a framework subscribes with: `roles` for MULTI_ROLE, else the deprecated `role` (default `*`). */
export function frameworkRoles(info: mesos.v1.FrameworkInfo): string[] {
  if (hasCapability(info, 'MULTI_ROLE')) return [...(info.roles ?? [])];
  return [info.role ?? '*'];
}
