/**
 * `@mesoskit/executor`: a custom Mesos executor (v1 Executor HTTP API) that runs registered,
 * typed task handlers, many tasks per long-lived executor process, each ending in a terminal
 * status update whatever happens. Operators run it as the `mesoskit-executor` CLI; framework
 * authors write a handler module for it.
 *
 * @example
 * ```ts
 * // handlers.ts, loaded on the agent by `mesoskit-executor --handlers ./handlers.js`
 * import { handle, handlers, NonRetryableError } from '@mesoskit/executor';
 * import { resize } from './tasks.js';
 *
 * export default handlers(
 *   handle(resize, async ({ url, width }, ctx) => {
 *     if (width <= 0) throw new NonRetryableError('width must be positive', { code: 'BAD_INPUT' });
 *     ctx.send({ step: 'download' }); // best effort
 *     return { bytes: await shrink(url, width, { signal: ctx.signal }) };
 *   }),
 * );
 * ```
 *
 * @packageDocumentation
 */

export type { CreateLoggerOptions, LogFormat, Logger, LogLevel } from '@mesoskit/protocol';
export { childLogger, createLogger, LOG_LEVELS, parseDuration, silentLogger } from '@mesoskit/protocol';
export type { TaskContext } from './context.js';
export type {
  AgentConnectionErrorCode,
  ExecutorEnvironmentErrorCode,
  LaunchErrorCode,
  NonRetryableErrorOptions,
} from './errors.js';
export {
  AgentConnectionError,
  ExecutorEnvironmentError,
  HandlerModuleError,
  LaunchError,
  NonRetryableError,
} from './errors.js';
export type { Executor, ExecutorExit, ExecutorExitReason, ExecutorStats } from './executor.js';
export { runExecutor } from './executor.js';
export type {
  AnyHandlerBinding,
  HandleOptions,
  HandlerBinding,
  HandlerRegistry,
  TaskHandler,
} from './handlers.js';
export { handle, handlers, isHandlerRegistry } from './handlers.js';
export { loadHandlers } from './load.js';
export type { ExecutorEnvironment, ExecutorOptions, ResolvedExecutorOptions } from './options.js';
export {
  DEFAULT_CONCURRENCY,
  DEFAULT_ENCODING,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_KILL_GRACE_PERIOD_MS,
  DEFAULT_MAX_LAUNCH_BYTES,
  DEFAULT_MESSAGE_BUFFER_SIZE,
  DEFAULT_PROGRESS_INTERVAL_MS,
  DEFAULT_RECOVERY_TIMEOUT_MS,
  DEFAULT_RUNNING_UPDATE_DELAY_MS,
  DEFAULT_SHUTDOWN_GRACE_PERIOD_MS,
  DEFAULT_SUBSCRIBE_TIMEOUT_MS,
  DEFAULT_SUBSCRIPTION_BACKOFF_MAX_MS,
  DEFAULT_WORKER_THREADS,
  readExecutorEnvironment,
  resolveExecutorOptions,
} from './options.js';
