/**
 * The errors `@mesoskit/executor` raises. Each has a stable `code`; branch on it, not on
 * `instanceof` (handler modules may load another copy of this package).
 *
 * @module
 */
import { MesoskitError } from '@mesoskit/protocol';

/** Options of {@link NonRetryableError}. */
export interface NonRetryableErrorOptions extends ErrorOptions {
  /** A stable machine code, e.g. `BAD_INPUT`; it crosses the wire in the `WireFailure`. */
  code?: string;
  /** Extra data for the scheduler; must be MessagePack-encodable or it is left out. */
  details?: unknown;
}

/**
 * Throw it from a handler when another attempt cannot succeed: the scheduler settles the run
 * at once instead of retrying it. Crosses the wire as a `WireFailure` with `retryable: false`.
 *
 * ```ts
 * if (width <= 0) throw new NonRetryableError('width must be positive', { code: 'BAD_INPUT' });
 * ```
 */
export class NonRetryableError extends Error {
  override readonly name: string = 'NonRetryableError';
  readonly retryable = false;
  readonly code: string | undefined;
  readonly details: unknown;

  constructor(message: string, options?: NonRetryableErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = options?.code;
    this.details = options?.details;
  }
}

export type LaunchErrorCode =
  /** `TaskInfo.data` holds no launch envelope, or one that does not decode. */
  | 'BAD_LAUNCH_ENVELOPE'
  /** No handler is registered for the launched task's name. */
  | 'UNKNOWN_TASK'
  /** A handler is registered for the name, but for another payload version. */
  | 'TASK_VERSION_MISMATCH'
  /** A task id this executor already runs was launched again. */
  | 'DUPLICATE_TASK';

/**
 * Why a launched task could not be started. Reported as `TASK_FAILED` (reason
 * `REASON_TASK_INVALID`) with a non-retryable `WireFailure` whose `code` is one of
 * {@link LaunchErrorCode}.
 */
export class LaunchError extends MesoskitError {
  override readonly name = 'LaunchError';
  declare readonly code: LaunchErrorCode;
  readonly retryable = false;
  constructor(code: LaunchErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

export type ExecutorEnvironmentErrorCode =
  /** A variable the agent always sets is missing. */
  | 'MISSING_ENVIRONMENT'
  /** A variable is set but cannot be read (e.g. a duration such as `5secs`). */
  | 'INVALID_ENVIRONMENT';

/**
 * The process was not started the way a Mesos agent starts an executor. The message is one line
 * naming the variable, e.g. `MESOS_AGENT_ENDPOINT is not set (…)`.
 */
export class ExecutorEnvironmentError extends MesoskitError {
  override readonly name = 'ExecutorEnvironmentError';
  declare readonly code: ExecutorEnvironmentErrorCode;
  /** The environment variable at fault. */
  readonly variable: string;
  constructor(code: ExecutorEnvironmentErrorCode, variable: string, message: string) {
    super(code, message);
    this.variable = variable;
  }
}

export type AgentConnectionErrorCode =
  /** The agent answered SUBSCRIBE with an HTTP error. */
  | 'SUBSCRIBE_REFUSED'
  /** The agent could not be reached, or the stream broke. */
  | 'AGENT_UNREACHABLE'
  /** The agent sent an ERROR event. */
  | 'AGENT_ERROR';

/** Trouble talking to the agent. `status`/`body` are set for HTTP errors. */
export class AgentConnectionError extends MesoskitError {
  override readonly name = 'AgentConnectionError';
  declare readonly code: AgentConnectionErrorCode;
  readonly status: number | undefined;
  readonly body: string | undefined;
  constructor(
    code: AgentConnectionErrorCode,
    message: string,
    options?: ErrorOptions & { status?: number; body?: string },
  ) {
    super(code, message, options);
    this.status = options?.status;
    this.body = options?.body;
  }
}

/** The handler module given to the CLI cannot be loaded or exports no `handlers(...)`. */
export class HandlerModuleError extends MesoskitError {
  override readonly name = 'HandlerModuleError';
  declare readonly code: 'HANDLER_MODULE';
  constructor(message: string, options?: ErrorOptions) {
    super('HANDLER_MODULE', message, options);
  }
}
