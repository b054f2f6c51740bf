/**
 * Options of {@link TaskScheduler.connect} and of each submit: `XxxOptions` → `resolveXxx()` →
 * resolved values, with `InvalidOptionsError` naming the field.
 *
 * @module
 */
import { InvalidOptionsError, type TaskDefinition, type TaskResources } from '@mesoskit/protocol';
import type { FrameworkInfoInput, MesosSchedulerClientOptions } from '../client/index.js';
import type { NodeExecutor } from './executors.js';
import { firstFit, type PackingStrategy, type TaskConstraints } from './packing.js';
import { type Scalars, validScalar } from './resources.js';

/** What a retry decision sees about the attempt that just ended. */
export interface AttemptFailure {
  /** The attempt that ended, counting from 1. */
  attempt: number;
  /** The Mesos state it ended in, e.g. `TASK_FAILED`, `TASK_LOST`. */
  state: string;
  /** The Mesos reason, e.g. `REASON_EXECUTOR_TERMINATED`. */
  reason: string | undefined;
  /**
   * The error the run would reject with: `RemoteTaskError` for a handler's failure (see its
   * `retryable` and `code`), `TaskLostError` when Mesos lost the attempt.
   */
  error: Error;
}

/** Backoff between attempts: `min(maxMs, initialMs · multiplier^(n−1))`, minus up to `jitter` of it. */
export interface BackoffOptions {
  /** @default 200 */
  initialMs?: number;
  /** @default 10000 */
  maxMs?: number;
  /** @default 2 */
  multiplier?: number;
  /** Fraction removed at random (0–1). @default 0.2 */
  jitter?: number;
}

export interface RetryOptions {
  /** Attempts in all, the first included; 1 = never retry. @default 3 */
  maxAttempts?: number;
  backoff?: BackoffOptions;
  /**
   * Whether to retry after a failed attempt (while attempts remain). The default retries a
   * handler failure marked `retryable` (anything but `NonRetryableError` and undecodable input)
   * and every loss of the attempt by Mesos (`TASK_LOST`, `TASK_DROPPED`, `TASK_GONE`,
   * `TASK_UNREACHABLE`, `TASK_UNKNOWN`, `TASK_FAILED` without a result because the executor
   * died), but not `TASK_ERROR` (Mesos found the task invalid) or `TASK_KILLED` by someone else.
   */
  retryOn?: (failure: AttemptFailure) => boolean;
}

export interface ResolvedRetry {
  maxAttempts: number;
  initialMs: number;
  maxMs: number;
  multiplier: number;
  jitter: number;
  retryOn: (failure: AttemptFailure) => boolean;
}

/** Per-submit options. */
export interface SubmitOptions {
  /** Overrides the definition's resources for this task. */
  resources?: Partial<TaskResources>;
  retry?: RetryOptions;
  /** Kill the task and reject with `TaskTimeoutError` after this long from submit. Not retried. */
  timeoutMs?: number;
  /** Aborting it kills the task and rejects with `TaskCancelledError`. */
  signal?: AbortSignal;
  constraints?: TaskConstraints;
  /** Mesos labels on every attempt's `TaskInfo`. */
  labels?: Readonly<Record<string, string>>;
}

export interface TaskSchedulerOptions extends Omit<MesosSchedulerClientOptions, 'framework' | 'ack'> {
  /**
   * The framework. `name` defaults to `mesoskit`; `failover_timeout` to 60 s, so that a dropped
   * subscription (or a scheduler restart with the same id) keeps the tasks; `checkpoint` to true,
   * so tasks survive an agent restart.
   */
  framework?: Partial<FrameworkInfoInput>;
  /** The executors tasks run in (see `nodeExecutor`). Each task definition maps to exactly one. */
  executors: NodeExecutor | readonly NodeExecutor[];
  /** The default retry policy of every submit. */
  retry?: RetryOptions;
  /** The default `timeoutMs` of every submit. @default none */
  timeoutMs?: number;
  /** @default firstFit */
  packing?: PackingStrategy;
  /**
   * Unused offers are kept this long, so that work submitted meanwhile launches at once; then
   * declined (with `refuse_seconds` 0 while work is queued, {@link idleRefuseSeconds} when idle).
   * After this long with nothing queued or running, the scheduler also SUPPRESSes offers (and
   * REVIVEs when work comes).
   * @default 1000
   */
  offerHoldMs?: number;
  /** `refuse_seconds` of offers declined while nothing is queued (the next REVIVE clears it). @default 60 */
  idleRefuseSeconds?: number;
  /** Minimum time between two REVIVE calls. @default 200 */
  reviveIntervalMs?: number;
  /** SHUTDOWN an executor after it ran no task for this long. 0 = never. @default 60000 */
  executorIdleTimeoutMs?: number;
  /** Send an implicit RECONCILE this often (0 = only on (re)subscribe). @default 0 */
  reconcileIntervalMs?: number;
  /**
   * Abort the whole run on the first attempt that ends `TASK_FAILED`, `TASK_KILLED`, `TASK_LOST`
   * (or any other unsuccessful terminal state): log its state, reason, source and message,
   * reject every unsettled task with `SchedulerAbortedError`, tear the framework down.
   * @default false
   */
  abortOnFailure?: boolean;
  /** Per-run buffer of `message`/`progress` events for a slow `events()` consumer. @default 256 */
  maxBufferedMessages?: number;
  /** At most this many queued tasks are considered per packing round. @default 4096 */
  packingWindow?: number;
  /**
   * Task data (launch envelopes) per ACCEPT, at most (default 16 MiB; a larger single task
   * still goes alone). Masters limit request bodies (mesoskit-local: 64 MiB).
   */
  maxAcceptBytes?: number;
}

export interface ResolvedTaskSchedulerOptions {
  client: MesosSchedulerClientOptions;
  executors: readonly NodeExecutor[];
  /** Executor by task name, and the executor for every other task. */
  executorByTask: ReadonlyMap<string, NodeExecutor>;
  defaultExecutor: NodeExecutor | undefined;
  retry: ResolvedRetry;
  timeoutMs: number | undefined;
  packing: PackingStrategy;
  offerHoldMs: number;
  idleRefuseSeconds: number;
  reviveIntervalMs: number;
  executorIdleTimeoutMs: number;
  reconcileIntervalMs: number;
  abortOnFailure: boolean;
  maxBufferedMessages: number;
  packingWindow: number;
  maxAcceptBytes: number;
}

export const DEFAULT_RETRY = Object.freeze({
  maxAttempts: 3,
  initialMs: 200,
  maxMs: 10_000,
  multiplier: 2,
  jitter: 0.2,
});
export const DEFAULT_FAILOVER_TIMEOUT_SECONDS = 60;
export const DEFAULT_OFFER_HOLD_MS = 1000;
export const DEFAULT_IDLE_REFUSE_SECONDS = 60;
export const DEFAULT_REVIVE_INTERVAL_MS = 200;
export const DEFAULT_EXECUTOR_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_BUFFERED_MESSAGES = 256;
export const DEFAULT_PACKING_WINDOW = 4096;
export const DEFAULT_MAX_ACCEPT_BYTES = 16 * 1024 * 1024;

const NOT_RETRIED_STATES = new Set(['TASK_ERROR', 'TASK_KILLED']);

/** The default `retryOn`: retryable handler failures and losses, not TASK_ERROR or a foreign kill. */
export function defaultRetryOn(failure: AttemptFailure): boolean {
  if (NOT_RETRIED_STATES.has(failure.state)) return false;
  const retryable = (failure.error as { retryable?: unknown }).retryable;
  return retryable !== false;
}

function nonNegative(name: string, value: number | undefined, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    (integer && !Number.isSafeInteger(value))
  ) {
    throw new InvalidOptionsError(
      `${name} must be a non-negative ${integer ? 'integer' : 'number'}, got ${String(value)}`,
    );
  }
  return value;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = nonNegative(name, value, fallback, true);
  if (v < 1) throw new InvalidOptionsError(`${name} must be at least 1, got ${v}`);
  return v;
}

/** Merges a retry policy over `base`. */
export function resolveRetry(
  name: string,
  given: RetryOptions | undefined,
  base: ResolvedRetry,
): ResolvedRetry {
  if (given === undefined) return base;
  if (given === null || typeof given !== 'object') throw new InvalidOptionsError(`${name} must be an object`);
  const b = given.backoff ?? {};
  const resolved: ResolvedRetry = {
    maxAttempts: positiveInt(`${name}.maxAttempts`, given.maxAttempts, base.maxAttempts),
    initialMs: nonNegative(`${name}.backoff.initialMs`, b.initialMs, base.initialMs),
    maxMs: nonNegative(`${name}.backoff.maxMs`, b.maxMs, base.maxMs),
    multiplier: nonNegative(`${name}.backoff.multiplier`, b.multiplier, base.multiplier),
    jitter: nonNegative(`${name}.backoff.jitter`, b.jitter, base.jitter),
    retryOn: given.retryOn ?? base.retryOn,
  };
  if (resolved.jitter > 1) throw new InvalidOptionsError(`${name}.backoff.jitter must be between 0 and 1`);
  if (resolved.multiplier < 1) throw new InvalidOptionsError(`${name}.backoff.multiplier must be at least 1`);
  if (typeof resolved.retryOn !== 'function')
    throw new InvalidOptionsError(`${name}.retryOn must be a function`);
  return resolved;
}

/** The delay before attempt `next` (2, 3, …). */
export function backoffDelay(retry: ResolvedRetry, next: number, random: () => number): number {
  const base = Math.min(retry.maxMs, retry.initialMs * retry.multiplier ** (next - 2));
  return Math.round(base * (1 - retry.jitter * random()));
}

/** Resolves a task's resources (definition, then override) to thousandths. */
/** A definition's own resources, checked once. */
const defScalars = new WeakMap<TaskDefinition<unknown, unknown>, Readonly<Scalars>>();

export function taskScalars(
  def: TaskDefinition<unknown, unknown>,
  override: Partial<TaskResources> | undefined,
): Readonly<Scalars> {
  if (override === undefined) {
    let scalars = defScalars.get(def);
    if (scalars === undefined) {
      scalars = Object.freeze(checkedScalars(def, def.resources));
      defScalars.set(def, scalars);
    }
    return scalars;
  }
  return checkedScalars(def, { ...def.resources, ...override });
}

function checkedScalars(def: TaskDefinition<unknown, unknown>, r: TaskResources): Scalars {
  return {
    cpus: validScalar(`${def.name}: resources.cpus`, r.cpus),
    mem: validScalar(`${def.name}: resources.memMb`, r.memMb),
    disk: validScalar(`${def.name}: resources.diskMb`, r.diskMb ?? 0, true),
    gpus: validScalar(`${def.name}: resources.gpus`, r.gpus ?? 0, true),
  };
}

export function resolveTaskSchedulerOptions(options: TaskSchedulerOptions): ResolvedTaskSchedulerOptions {
  if (options === null || typeof options !== 'object')
    throw new InvalidOptionsError('options must be an object');
  const list = (Array.isArray(options.executors) ? options.executors : [options.executors]) as NodeExecutor[];
  if (
    list.length === 0 ||
    list.some((e) => e === null || typeof e !== 'object' || e.kind !== 'node-executor')
  ) {
    throw new InvalidOptionsError('executors must be one or more nodeExecutor(...) definitions');
  }
  const executorByTask = new Map<string, NodeExecutor>();
  let defaultExecutor: NodeExecutor | undefined;
  const names = new Set<string>();
  for (const e of list) {
    if (names.has(e.name)) throw new InvalidOptionsError(`executors: two executors are named ${e.name}`);
    names.add(e.name);
    if (e.taskNames === undefined) {
      if (defaultExecutor !== undefined) {
        throw new InvalidOptionsError(
          `executors: ${defaultExecutor.name} and ${e.name} both leave out tasks; at most one executor may run every other task`,
        );
      }
      defaultExecutor = e;
      continue;
    }
    for (const task of e.taskNames) {
      const other = executorByTask.get(task);
      if (other !== undefined)
        throw new InvalidOptionsError(`executors: task ${task} is listed by ${other.name} and ${e.name}`);
      executorByTask.set(task, e);
    }
  }
  const {
    executors: _executors,
    retry,
    timeoutMs,
    packing,
    framework,
    offerHoldMs: _offerHoldMs,
    idleRefuseSeconds: _idleRefuseSeconds,
    reviveIntervalMs: _reviveIntervalMs,
    executorIdleTimeoutMs: _executorIdleTimeoutMs,
    reconcileIntervalMs: _reconcileIntervalMs,
    abortOnFailure: _abortOnFailure,
    maxBufferedMessages: _maxBufferedMessages,
    packingWindow: _packingWindow,
    maxAcceptBytes: _maxAcceptBytes,
    ...rest
  } = options;
  const fw = framework ?? {};
  const client: MesosSchedulerClientOptions = {
    ...rest,
    framework: {
      ...fw,
      name: fw.name ?? 'mesoskit',
      failover_timeout: fw.failover_timeout ?? DEFAULT_FAILOVER_TIMEOUT_SECONDS,
      checkpoint: fw.checkpoint ?? true,
    },
    ack: 'auto',
    // Its own explicit reconciliation of what it launched replaces the client's implicit one.
    reconcileOnResubscribe: rest.reconcileOnResubscribe ?? 'none',
  };
  if (timeoutMs !== undefined) nonNegative('timeoutMs', timeoutMs, 0);
  if (packing !== undefined && typeof packing !== 'function')
    throw new InvalidOptionsError('packing must be a function');
  return {
    client,
    executors: list,
    executorByTask,
    defaultExecutor,
    retry: resolveRetry('retry', retry, { ...DEFAULT_RETRY, retryOn: defaultRetryOn }),
    timeoutMs,
    packing: packing ?? firstFit,
    offerHoldMs: nonNegative('offerHoldMs', options.offerHoldMs, DEFAULT_OFFER_HOLD_MS),
    idleRefuseSeconds: nonNegative(
      'idleRefuseSeconds',
      options.idleRefuseSeconds,
      DEFAULT_IDLE_REFUSE_SECONDS,
    ),
    reviveIntervalMs: nonNegative('reviveIntervalMs', options.reviveIntervalMs, DEFAULT_REVIVE_INTERVAL_MS),
    executorIdleTimeoutMs: nonNegative(
      'executorIdleTimeoutMs',
      options.executorIdleTimeoutMs,
      DEFAULT_EXECUTOR_IDLE_TIMEOUT_MS,
    ),
    reconcileIntervalMs: nonNegative('reconcileIntervalMs', options.reconcileIntervalMs, 0),
    abortOnFailure: options.abortOnFailure ?? false,
    maxBufferedMessages: positiveInt(
      'maxBufferedMessages',
      options.maxBufferedMessages,
      DEFAULT_MAX_BUFFERED_MESSAGES,
    ),
    packingWindow: positiveInt('packingWindow', options.packingWindow, DEFAULT_PACKING_WINDOW),
    maxAcceptBytes: positiveInt('maxAcceptBytes', options.maxAcceptBytes, DEFAULT_MAX_ACCEPT_BYTES),
  };
}
