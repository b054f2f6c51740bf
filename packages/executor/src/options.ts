/**
 * Executor configuration: {@link ExecutorOptions} → {@link resolveExecutorOptions} (defaults
 * applied, everything checked, the agent's environment read) → {@link ResolvedExecutorOptions}.
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import {
  createLogger,
  InvalidOptionsError,
  type Logger,
  type MesosEncoding,
  parseDuration,
} from '@mesoskit/protocol';
import { ExecutorEnvironmentError } from './errors.js';
import {
  type AnyHandlerBinding,
  type HandlerRegistry,
  isHandlerRegistry,
  handlers as makeRegistry,
  withSource,
} from './handlers.js';

/** How many tasks run at once in one executor by default. */
export const DEFAULT_CONCURRENCY = 32;
/** The encoding spoken to the agent by default. */
export const DEFAULT_ENCODING: MesosEncoding = 'protobuf';
/** Idle timeout by default: 0, off (the scheduler shuts idle executors down). */
export const DEFAULT_IDLE_TIMEOUT_MS = 0;
/** Grace between aborting a killed task's signal and reporting `TASK_KILLED`, when no kill policy says. */
export const DEFAULT_KILL_GRACE_PERIOD_MS = 3000;
/** The shortest interval between two `ctx.progress()` messages of one run. */
export const DEFAULT_PROGRESS_INTERVAL_MS = 1000;
/** Scheduler messages buffered per run before the oldest are dropped. */
export const DEFAULT_MESSAGE_BUFFER_SIZE = 1000;
/** Executor → agent `HEARTBEAT` call interval (as the C++ executor library: 30 min). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 30 * 60 * 1000;
/** `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD` when the agent does not set it (Mesos' default). */
export const DEFAULT_SHUTDOWN_GRACE_PERIOD_MS = 5000;
/** `MESOS_RECOVERY_TIMEOUT` when a checkpointing agent does not set it (Mesos' default). */
export const DEFAULT_RECOVERY_TIMEOUT_MS = 15 * 60 * 1000;
/** `MESOS_SUBSCRIPTION_BACKOFF_MAX` when a checkpointing agent does not set it (Mesos' default). */
export const DEFAULT_SUBSCRIPTION_BACKOFF_MAX_MS = 2000;
/** How long the first SUBSCRIBE is retried while the agent cannot be reached (Mesos' registration timeout). */
export const DEFAULT_SUBSCRIBE_TIMEOUT_MS = 60_000;
/**
 * TASK_RUNNING is sent only for runs still going after 5 ms by default: shorter runs go straight
 * from launch to their terminal update (Mesos accepts it), which saves a status update and its
 * acknowledgement per short task.
 */
export const DEFAULT_RUNNING_UPDATE_DELAY_MS = 5;
/** Worker threads for `isolation: 'worker'` handlers: one per CPU but one, at least one. */
export const DEFAULT_WORKER_THREADS = Math.max(1, availableParallelism() - 1);
/** The largest launch envelope accepted (`TaskInfo.data`). */
export const DEFAULT_MAX_LAUNCH_BYTES = 16 * 1024 * 1024;

/** Options of `runExecutor()`. */
export interface ExecutorOptions {
  /** The handlers to run: the registry from `handlers(...)`, or a list of `handle(...)` bindings. */
  handlers: HandlerRegistry | readonly AnyHandlerBinding[];
  /**
   * How many tasks may run at once; further launched tasks wait in a FIFO queue (no status
   * update until they start). A positive integer.
   * @default 32 (`DEFAULT_CONCURRENCY`)
   */
  concurrency?: number;
  /**
   * The encoding spoken to the agent (`Content-Type` and `Accept`).
   * @default 'protobuf' (`DEFAULT_ENCODING`)
   */
  encoding?: MesosEncoding;
  /**
   * Where the executor logs.
   * @default one JSON line per entry on stderr, at `warn` and above
   */
  logger?: Logger;
  /**
   * Exit (`closed()` resolves with reason `idle`) after this long without a queued or running
   * task. 0 turns it off.
   * @default 0 (`DEFAULT_IDLE_TIMEOUT_MS`)
   */
  idleTimeoutMs?: number;
  /**
   * Grace between aborting a killed task's signal and reporting `TASK_KILLED` when neither the
   * KILL event nor `TaskInfo.kill_policy` gives one. The report comes as soon as the handler
   * settles, and at the latest when the grace ends.
   * @default 3000 (`DEFAULT_KILL_GRACE_PERIOD_MS`)
   */
  killGracePeriodMs?: number;
  /**
   * The shortest interval between two progress messages of one run.
   * @default 1000 (`DEFAULT_PROGRESS_INTERVAL_MS`)
   */
  progressIntervalMs?: number;
  /**
   * Scheduler messages buffered per run for `ctx.messages`.
   * @default 1000 (`DEFAULT_MESSAGE_BUFFER_SIZE`)
   */
  messageBufferSize?: number;
  /**
   * Interval of the executor's `HEARTBEAT` calls (keeps the call connection alive through
   * middleboxes). 0 turns them off.
   * @default 1800000 (30 min, `DEFAULT_HEARTBEAT_INTERVAL_MS`)
   */
  heartbeatIntervalMs?: number;
  /**
   * How long the first SUBSCRIBE is retried while the agent cannot be reached.
   * @default 60000 (`DEFAULT_SUBSCRIBE_TIMEOUT_MS`)
   */
  subscribeTimeoutMs?: number;
  /**
   * Send `TASK_RUNNING` only for runs still going after this long; a run that settles sooner
   * goes straight from launch to its terminal update, which Mesos accepts (TASK_RUNNING is
   * optional before a terminal state). Saves one status update per short task. 0 sends
   * `TASK_RUNNING` as soon as the handler starts.
   * @default 5 (`DEFAULT_RUNNING_UPDATE_DELAY_MS`)
   */
  runningUpdateDelayMs?: number;
  /**
   * Size of the worker-thread pool that runs `isolation: 'worker'` handlers (created on first
   * use). A positive integer.
   * @default one per CPU but one, at least 1 (`DEFAULT_WORKER_THREADS`)
   */
  workerThreads?: number;
  /**
   * The handler module's path or URL, which worker threads import to find `isolation: 'worker'`
   * handlers. Not needed when `handlers` came from `loadHandlers()` (the CLI does that).
   */
  handlersModule?: string | URL;
  /**
   * Include stack traces in the `WireFailure`s of failed tasks.
   * @default false
   */
  includeStack?: boolean;
  /**
   * The largest launch envelope accepted, in bytes.
   * @default 16 MiB (`DEFAULT_MAX_LAUNCH_BYTES`)
   */
  maxLaunchBytes?: number;
  /**
   * The environment to read the agent's `MESOS_*` variables from.
   * @default process.env
   */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Log (instead of crashing on) `uncaughtException` and `unhandledRejection` while the executor
   * runs, so a stray error in a handler never kills the process. The CLI turns it on.
   * @default false
   */
  catchProcessErrors?: boolean;
}

/** What the agent told the executor through its environment (§3.11 of the Mesos notes). */
export interface ExecutorEnvironment {
  /** `http://$MESOS_AGENT_ENDPOINT/api/v1/executor`. */
  readonly agentUrl: string;
  readonly frameworkId: string;
  readonly executorId: string;
  /** `MESOS_SLAVE_ID`, when set; the SUBSCRIBED event's agent id is used otherwise. */
  readonly agentId: string | undefined;
  /** `MESOS_SANDBOX` (else `MESOS_DIRECTORY`, else the working directory). */
  readonly sandbox: string;
  /** `MESOS_CHECKPOINT === '1'`. */
  readonly checkpoint: boolean;
  readonly recoveryTimeoutMs: number;
  readonly subscriptionBackoffMaxMs: number;
  readonly shutdownGracePeriodMs: number;
  /** `MESOS_EXECUTOR_AUTHENTICATION_TOKEN`, sent as `Authorization: Bearer …`. */
  readonly authToken: string | undefined;
}

/** {@link ExecutorOptions} with every default applied and the environment read. */
export interface ResolvedExecutorOptions {
  readonly handlers: HandlerRegistry;
  readonly concurrency: number;
  readonly encoding: MesosEncoding;
  readonly logger: Logger;
  readonly idleTimeoutMs: number;
  readonly killGracePeriodMs: number;
  readonly progressIntervalMs: number;
  readonly messageBufferSize: number;
  readonly heartbeatIntervalMs: number;
  readonly subscribeTimeoutMs: number;
  readonly runningUpdateDelayMs: number;
  readonly workerThreads: number;
  readonly includeStack: boolean;
  readonly maxLaunchBytes: number;
  readonly catchProcessErrors: boolean;
  readonly environment: ExecutorEnvironment;
}

/**
 * Applies defaults and checks every option.
 *
 * @throws {InvalidOptionsError} naming the option at fault.
 * @throws {ExecutorEnvironmentError} naming a missing or unreadable `MESOS_*` variable.
 */
export function resolveExecutorOptions(options: ExecutorOptions): ResolvedExecutorOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionsError('runExecutor(options): options must be an object');
  }
  let registry: HandlerRegistry;
  if (isHandlerRegistry(options.handlers)) registry = options.handlers;
  else if (Array.isArray(options.handlers)) registry = makeRegistry(...options.handlers);
  else {
    throw new InvalidOptionsError(
      'options.handlers must be the registry from handlers(...) or a list of handle(...) bindings',
    );
  }
  const encoding = options.encoding ?? DEFAULT_ENCODING;
  if (encoding !== 'json' && encoding !== 'protobuf') {
    throw new InvalidOptionsError(
      `options.encoding must be 'json' or 'protobuf', got ${JSON.stringify(encoding)}`,
    );
  }
  if (options.handlersModule !== undefined) {
    const m = options.handlersModule;
    const url =
      m instanceof URL
        ? m.href
        : typeof m === 'string' && m.startsWith('file:')
          ? m
          : pathToFileURL(String(m)).href;
    registry = withSource(registry, url);
  }
  const needsWorker = registry.list.find((b) => b.options.isolation === 'worker');
  if (needsWorker && registry.source === undefined) {
    throw new InvalidOptionsError(
      `task ${JSON.stringify(needsWorker.name)} uses isolation 'worker', which needs the handler module's URL: ` +
        'load the handlers with loadHandlers() or pass options.handlersModule',
    );
  }
  return {
    handlers: registry,
    concurrency: positiveInt('concurrency', options.concurrency, DEFAULT_CONCURRENCY),
    encoding,
    logger: options.logger ?? createLogger(),
    idleTimeoutMs: nonNegative('idleTimeoutMs', options.idleTimeoutMs, DEFAULT_IDLE_TIMEOUT_MS),
    killGracePeriodMs: nonNegative(
      'killGracePeriodMs',
      options.killGracePeriodMs,
      DEFAULT_KILL_GRACE_PERIOD_MS,
    ),
    progressIntervalMs: nonNegative(
      'progressIntervalMs',
      options.progressIntervalMs,
      DEFAULT_PROGRESS_INTERVAL_MS,
    ),
    messageBufferSize: positiveInt(
      'messageBufferSize',
      options.messageBufferSize,
      DEFAULT_MESSAGE_BUFFER_SIZE,
    ),
    heartbeatIntervalMs: nonNegative(
      'heartbeatIntervalMs',
      options.heartbeatIntervalMs,
      DEFAULT_HEARTBEAT_INTERVAL_MS,
    ),
    subscribeTimeoutMs: nonNegative(
      'subscribeTimeoutMs',
      options.subscribeTimeoutMs,
      DEFAULT_SUBSCRIBE_TIMEOUT_MS,
    ),
    runningUpdateDelayMs: nonNegative(
      'runningUpdateDelayMs',
      options.runningUpdateDelayMs,
      DEFAULT_RUNNING_UPDATE_DELAY_MS,
    ),
    workerThreads: positiveInt('workerThreads', options.workerThreads, DEFAULT_WORKER_THREADS),
    includeStack: bool('includeStack', options.includeStack, false),
    maxLaunchBytes: positiveInt('maxLaunchBytes', options.maxLaunchBytes, DEFAULT_MAX_LAUNCH_BYTES),
    catchProcessErrors: bool('catchProcessErrors', options.catchProcessErrors, false),
    environment: readExecutorEnvironment(options.env ?? process.env),
  };
}

/**
 * Reads the variables a Mesos agent gives an executor.
 *
 * @throws {ExecutorEnvironmentError} one line naming the first missing or unreadable variable.
 */
export function readExecutorEnvironment(
  env: Readonly<Record<string, string | undefined>>,
): ExecutorEnvironment {
  const required = (name: string): string => {
    const value = env[name];
    if (value === undefined || value === '') {
      throw new ExecutorEnvironmentError(
        'MISSING_ENVIRONMENT',
        name,
        `${name} is not set: mesoskit-executor must be started by a Mesos agent (as ExecutorInfo.command)`,
      );
    }
    return value;
  };
  const duration = (name: string, fallback: number): number => {
    const value = env[name];
    if (value === undefined || value === '') return fallback;
    const ms = parseDuration(value);
    if (ms === undefined) {
      throw new ExecutorEnvironmentError(
        'INVALID_ENVIRONMENT',
        name,
        `${name} must be a duration such as 5secs or 1500ms, got ${JSON.stringify(value)}`,
      );
    }
    return ms;
  };
  const endpoint = required('MESOS_AGENT_ENDPOINT');
  const frameworkId = required('MESOS_FRAMEWORK_ID');
  const executorId = required('MESOS_EXECUTOR_ID');
  if (/[/\s]/.test(endpoint) || endpoint.includes('://')) {
    throw new ExecutorEnvironmentError(
      'INVALID_ENVIRONMENT',
      'MESOS_AGENT_ENDPOINT',
      `MESOS_AGENT_ENDPOINT must be <host>:<port>, got ${JSON.stringify(endpoint)}`,
    );
  }
  const token = env.MESOS_EXECUTOR_AUTHENTICATION_TOKEN;
  return Object.freeze({
    agentUrl: `http://${endpoint}/api/v1/executor`,
    frameworkId,
    executorId,
    agentId: env.MESOS_SLAVE_ID || undefined,
    sandbox: env.MESOS_SANDBOX || env.MESOS_DIRECTORY || process.cwd(),
    checkpoint: env.MESOS_CHECKPOINT === '1',
    recoveryTimeoutMs: duration('MESOS_RECOVERY_TIMEOUT', DEFAULT_RECOVERY_TIMEOUT_MS),
    subscriptionBackoffMaxMs: duration('MESOS_SUBSCRIPTION_BACKOFF_MAX', DEFAULT_SUBSCRIPTION_BACKOFF_MAX_MS),
    shutdownGracePeriodMs: duration('MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD', DEFAULT_SHUTDOWN_GRACE_PERIOD_MS),
    authToken: token === undefined || token === '' ? undefined : token,
  });
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionsError(`options.${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionsError(
      `options.${name} must be a finite number >= 0 (milliseconds), got ${String(value)}`,
    );
  }
  return value;
}

function bool(name: string, value: boolean | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw new InvalidOptionsError(`options.${name} must be a boolean, got ${String(value)}`);
  return value;
}
