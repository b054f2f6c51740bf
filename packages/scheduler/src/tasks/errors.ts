/**
 * How a submitted task can end other than with its result. Every class has a stable `code`;
 * branch on it (and on `err.cause.code` for a handler's own failure), not on `instanceof` across
 * package copies.
 *
 * @module
 */
import { MesoskitError, type WireFailure } from '@mesoskit/protocol';

/**
 * The handler's own failure, rebuilt from the `WireFailure` the executor sent. `name`, `code`,
 * `retryable` and `details` are the remote ones; `remoteStack` is there when the executor was
 * asked to send stacks.
 */
export class RemoteTaskError extends Error {
  /** The remote error's `name`, e.g. `TypeError` or `NonRetryableError`. */
  override readonly name: string;
  /** The remote error's stable code, when it had one. */
  readonly code: string | undefined;
  readonly retryable: boolean;
  readonly details: unknown;
  readonly remoteStack: string | undefined;

  constructor(failure: WireFailure) {
    super(failure.message, failure.cause ? { cause: new RemoteTaskError(failure.cause) } : undefined);
    this.name = failure.name;
    this.code = failure.code;
    this.retryable = failure.retryable;
    this.details = failure.details;
    this.remoteStack = failure.stack;
  }
}

/** What every task-outcome error carries. */
interface TaskErrorInit {
  /** The run's id (`handle.taskId`). */
  taskId: string;
  /** Attempts launched (0 when it never left the queue). */
  attempts: number;
}

abstract class TaskError extends MesoskitError {
  readonly taskId: string;
  readonly attempts: number;
  constructor(code: string, message: string, init: TaskErrorInit, options?: ErrorOptions) {
    super(code, message, options);
    this.taskId = init.taskId;
    this.attempts = init.attempts;
  }
}

/**
 * The task failed for good: its handler threw (then `cause` is a {@link RemoteTaskError}) or the
 * last attempt was lost with its executor or agent (then `cause` is a {@link TaskLostError}), and
 * the retry policy gave up.
 */
export class TaskFailedError extends TaskError {
  override readonly name = 'TaskFailedError';
  declare readonly code: 'TASK_FAILED';
  constructor(message: string, init: TaskErrorInit, options?: ErrorOptions) {
    super('TASK_FAILED', message, init, options);
  }
}

/** Mesos ended an attempt without a result: the executor, agent or master lost it. */
export class TaskLostError extends TaskError {
  override readonly name = 'TaskLostError';
  declare readonly code: 'TASK_LOST';
  /** The Mesos state, e.g. `TASK_LOST`, `TASK_FAILED` (executor died), `TASK_GONE`. */
  readonly state: string;
  /** The Mesos reason, e.g. `REASON_EXECUTOR_TERMINATED`, when there was one. */
  readonly reason: string | undefined;
  /** The Mesos source: `SOURCE_MASTER`, `SOURCE_AGENT` or `SOURCE_EXECUTOR`. */
  readonly source: string | undefined;
  constructor(
    message: string,
    init: TaskErrorInit & { state: string; reason?: string | undefined; source?: string | undefined },
  ) {
    super('TASK_LOST', message, init);
    this.state = init.state;
    this.reason = init.reason;
    this.source = init.source;
  }
}

/** Something other than this scheduler killed the task (an operator, the agent's kill). */
export class TaskKilledError extends TaskError {
  override readonly name = 'TaskKilledError';
  declare readonly code: 'TASK_KILLED';
  constructor(message: string, init: TaskErrorInit) {
    super('TASK_KILLED', message, init);
  }
}

/** `timeoutMs` elapsed; the running attempt was killed. Not retried. */
export class TaskTimeoutError extends TaskError {
  override readonly name = 'TaskTimeoutError';
  declare readonly code: 'TASK_TIMEOUT';
  readonly timeoutMs: number;
  constructor(init: TaskErrorInit & { timeoutMs: number }) {
    super('TASK_TIMEOUT', `task ${init.taskId} timed out after ${init.timeoutMs} ms`, init);
    this.timeoutMs = init.timeoutMs;
  }
}

/** `cancel()`, the submit's `signal`, or `stop({ teardown: true })` ended the task. */
export class TaskCancelledError extends TaskError {
  override readonly name = 'TaskCancelledError';
  declare readonly code: 'TASK_CANCELLED';
  constructor(message: string, init: TaskErrorInit, options?: ErrorOptions) {
    super('TASK_CANCELLED', message, init, options);
  }
}

/**
 * The scheduler stopped for good (`abortOnFailure` tripped, the master removed the framework,
 * or the subscription could not be kept): every unsettled task rejects with this.
 */
export class SchedulerAbortedError extends MesoskitError {
  override readonly name = 'SchedulerAbortedError';
  declare readonly code: 'SCHEDULER_ABORTED';
  constructor(message: string, options?: ErrorOptions) {
    super('SCHEDULER_ABORTED', message, options);
  }
}
