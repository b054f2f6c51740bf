export {
  RemoteTaskError,
  SchedulerAbortedError,
  TaskCancelledError,
  TaskFailedError,
  TaskKilledError,
  TaskLostError,
  TaskTimeoutError,
} from './errors.js';
export type { NodeExecutor, NodeExecutorOptions } from './executors.js';
export { DEFAULT_EXECUTOR_RESOURCES, nodeExecutor } from './executors.js';
export type {
  AttemptFailure,
  BackoffOptions,
  ResolvedRetry,
  ResolvedTaskSchedulerOptions,
  RetryOptions,
  SubmitOptions,
  TaskSchedulerOptions,
} from './options.js';
export {
  DEFAULT_EXECUTOR_IDLE_TIMEOUT_MS,
  DEFAULT_FAILOVER_TIMEOUT_SECONDS,
  DEFAULT_IDLE_REFUSE_SECONDS,
  DEFAULT_MAX_BUFFERED_MESSAGES,
  DEFAULT_OFFER_HOLD_MS,
  DEFAULT_PACKING_WINDOW,
  DEFAULT_RETRY,
  DEFAULT_REVIVE_INTERVAL_MS,
  defaultRetryOn,
  resolveTaskSchedulerOptions,
} from './options.js';
export type {
  AgentCapacity,
  PackableTask,
  Packing,
  PackingStrategy,
  PendingReason,
  TaskConstraints,
} from './packing.js';
export { constraintMismatch, describePending, firstFit } from './packing.js';
export type { Scalars } from './resources.js';
export type { TaskRunEvent } from './run-events.js';
export type {
  MapOptions,
  MapResult,
  TaskHandle,
  TaskSchedulerCounters,
  TaskSchedulerEvents,
} from './scheduler.js';
export { TaskScheduler } from './scheduler.js';
