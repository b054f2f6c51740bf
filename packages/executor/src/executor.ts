/**
 * The executor runtime: subscribes to the agent, runs launched tasks through their handlers
 * (with a concurrency limit and a queue), reports every task with a terminal status update that
 * it keeps until ACKNOWLEDGED, handles KILL, SHUTDOWN, framework messages, idleness, and the
 * agent going away (§3 of the Mesos notes).
 *
 * @module
 */
import { randomFillSync } from 'node:crypto';
import {
  childLogger,
  codecFor,
  decodeLaunchEnvelope,
  decodeMessageEnvelope,
  EnvelopeError,
  type ExecutorCall,
  type ExecutorEvent,
  encodeMessageEnvelope,
  encodeResultEnvelope,
  failureSummary,
  type LaunchEnvelope,
  type Logger,
  type mesos,
  type TaskInfo,
  type TaskState,
  type TaskStatus,
  toWireFailure,
  type WireFailure,
} from '@mesoskit/protocol';
import { AgentConnection } from './connection.js';
import { MessageQueue, type TaskContext, Throttle } from './context.js';
import { AgentConnectionError, LaunchError } from './errors.js';
import type { LaunchedTask } from './fast-codec.js';
import type { HandlerBinding } from './handlers.js';
import { type ExecutorOptions, type ResolvedExecutorOptions, resolveExecutorOptions } from './options.js';
import { WorkerPool } from './worker-pool.js';

/** Why an executor stopped. */
export type ExecutorExitReason =
  /** The agent sent SHUTDOWN. */
  | 'shutdown'
  /** No task for `idleTimeoutMs`. */
  | 'idle'
  /** `stop()` was called. */
  | 'stopped'
  /** The agent went away and the framework does not checkpoint. */
  | 'agent-lost'
  /** The agent went away and did not come back within `MESOS_RECOVERY_TIMEOUT`. */
  | 'recovery-timeout'
  /** The agent sent an ERROR event. */
  | 'agent-error';

/** How an executor ended, from `closed()`. */
export interface ExecutorExit {
  readonly reason: ExecutorExitReason;
  /** The error behind `agent-lost`, `recovery-timeout` or `agent-error`. */
  readonly error?: Error;
  /** The process exit code the CLI uses: 0 for `shutdown`, `idle` and `stopped`, else 1. */
  readonly exitCode: number;
}

/** Counters of a running executor. */
export interface ExecutorStats {
  /** Tasks waiting for a concurrency slot. */
  readonly queued: number;
  /** Tasks whose handler runs (including those being killed). */
  readonly running: number;
  /** Status updates sent but not yet acknowledged by the agent. */
  readonly unacknowledgedUpdates: number;
  /** Tasks launched since the start. */
  readonly launched: number;
}

/** A running executor, from {@link runExecutor}. */
export interface Executor {
  readonly frameworkId: string;
  readonly executorId: string;
  /** The agent's id (from SUBSCRIBED, else `MESOS_SLAVE_ID`). */
  readonly agentId: string;
  /** Resolves (never rejects) once the executor has stopped, saying why. */
  closed(): Promise<ExecutorExit>;
  /** Kills every task as SHUTDOWN would, sends their terminal updates, waits briefly for acknowledgements, closes. */
  stop(): Promise<ExecutorExit>;
  stats(): ExecutorStats;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts an executor: reads the agent's environment, subscribes, and runs launched tasks until
 * SHUTDOWN (or idleness, or the agent going away). Resolves once the agent accepted the
 * subscription (SUBSCRIBED), with a handle whose `closed()` says when and why it stopped.
 *
 * ```ts
 * import { handle, handlers, runExecutor } from '@mesoskit/executor';
 * const executor = await runExecutor({ handlers: handlers(handle(resize, resizeImage)), concurrency: 4 });
 * const { exitCode } = await executor.closed();
 * ```
 *
 * @throws {InvalidOptionsError} for bad options.
 * @throws {ExecutorEnvironmentError} naming a missing or unreadable `MESOS_*` variable.
 * @throws {AgentConnectionError} when the agent refuses the subscription or cannot be reached
 *   within `subscribeTimeoutMs`.
 */
export async function runExecutor(options: ExecutorOptions): Promise<Executor> {
  const runtime = new ExecutorRuntime(resolveExecutorOptions(options));
  await runtime.start();
  return runtime;
}

type RunState = 'queued' | 'running' | 'killing' | 'done';

interface TaskRun {
  readonly id: string;
  /** `TaskInfo.data`. */
  readonly data: Uint8Array | undefined;
  /** `TaskInfo.kill_policy.grace_period`, in ns. */
  readonly killGraceNs: number | undefined;
  /** The TaskInfo, decoded (see {@link taskInfoOf}). */
  info?: TaskInfo;
  /** The TaskInfo in protobuf, when it came through the fast LAUNCH path and is not decoded yet. */
  readonly infoBytes?: Uint8Array;
  state: RunState;
  binding?: HandlerBinding;
  launch?: LaunchEnvelope;
  /** Made when the handler first reads `ctx.signal` (most handlers of short tasks never do). */
  controller?: AbortController;
  /** Set by a kill: a signal made later starts aborted. */
  aborted?: Error;
  /** Some update of this task was acknowledged. */
  acked: boolean;
  /** Hex uuid of the terminal update, once sent. */
  terminalUuid?: number;
  messages?: MessageQueue<unknown>;
  throttle?: Throttle<unknown>;
  killTimer?: ReturnType<typeof setTimeout>;
  /** Runs in the worker pool. */
  worker?: boolean;
  /** When TASK_RUNNING is due (with `runningUpdateDelayMs`); 0 once sent or not wanted any more. */
  runningDue: number;
  killDeadline?: number;
  killMessage?: string;
  /** Waiting in the queue for a slot. */
  inQueue?: boolean;
  /** The task group it was launched in (LAUNCH_GROUP). */
  group?: TaskGroup;
}

/** The tasks of one LAUNCH_GROUP: when one fails or is killed, the others are killed (as Mesos' default executor does). */
interface TaskGroup {
  readonly runs: TaskRun[];
  /** The group is being killed (so a member's end does not kill it again). */
  killing: boolean;
}

interface PendingUpdate {
  readonly taskId: string;
  readonly update: mesos.v1.executor.Call.Update;
  /** Posted on the current connection, or listed in its SUBSCRIBE. */
  sent: boolean;
}

const KILLED = 'Task killed';

class ExecutorRuntime implements Executor {
  readonly #o: ResolvedExecutorOptions;
  readonly #log: Logger;
  readonly #conn: AgentConnection;
  readonly #tasks = new Map<string, TaskRun>();
  /**
   * Runs waiting for a slot, FIFO from `#queueHead`. A run that leaves the queue other than
   * from the head (killed, or started past a handler at its own limit) stays in the array with
   * a state other than `queued` and is skipped; `#queued` counts the real ones.
   */
  #queue: TaskRun[] = [];
  #queueHead = 0;
  #queued = 0;
  /** Updates sent and not yet acknowledged, by {@link uuidKey} of their uuid. */
  readonly #unacked = new Map<number, PendingUpdate>();
  readonly #perHandler = new Map<string, number>();
  #running = 0;
  #launched = 0;
  #connected = false;
  #subscribedOnce = false;
  /** The framework has the TASK_KILLING_STATE capability (from SUBSCRIBED's framework_info). */
  #taskKillingState = false;
  #onFirstSubscribed: (() => void) | undefined;
  #agentId: string;
  #shuttingDown = false;
  #closed = false;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  #recoveryTimer: ReturnType<typeof setTimeout> | undefined;
  #recovering = false;
  #wake: (() => void)[] = [];
  #resolveClosed!: (exit: ExecutorExit) => void;
  readonly #closedPromise: Promise<ExecutorExit>;
  #processHandler: ((err: unknown) => void) | undefined;
  #pool: WorkerPool | undefined;
  /** `executor_id` of every status update (one shared object: codecs only read it). */
  readonly #executorIdValue: { value: string };
  /** Runs waiting for their TASK_RUNNING (with `runningUpdateDelayMs`), in due order. */
  readonly #runningQueue: TaskRun[] = [];
  #runningTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ResolvedExecutorOptions) {
    this.#o = options;
    const env = options.environment;
    this.#log = childLogger(options.logger, { executorId: env.executorId, frameworkId: env.frameworkId });
    this.#agentId = env.agentId ?? '';
    this.#executorIdValue = { value: env.executorId };
    this.#conn = new AgentConnection({
      url: env.agentUrl,
      frameworkId: env.frameworkId,
      executorId: env.executorId,
      encoding: options.encoding,
      authToken: env.authToken,
    });
    this.#closedPromise = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  get frameworkId(): string {
    return this.#o.environment.frameworkId;
  }
  get executorId(): string {
    return this.#o.environment.executorId;
  }
  get agentId(): string {
    return this.#agentId;
  }

  closed(): Promise<ExecutorExit> {
    return this.#closedPromise;
  }

  stop(): Promise<ExecutorExit> {
    void this.#shutdown('stopped');
    return this.#closedPromise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  stats(): ExecutorStats {
    return {
      queued: this.#queued,
      running: this.#running,
      unacknowledgedUpdates: this.#unacked.size,
      launched: this.#launched,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Connection

  async start(): Promise<void> {
    if (this.#o.catchProcessErrors) {
      this.#processHandler = (err: unknown) => {
        this.#log.error('uncaught error outside any handler call (ignored)', { error: describeError(err) });
      };
      process.on('uncaughtException', this.#processHandler);
      process.on('unhandledRejection', this.#processHandler);
    }
    const firstSubscribed = new Promise<void>((resolve) => {
      this.#onFirstSubscribed = resolve;
    });
    const deadline = Date.now() + this.#o.subscribeTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#subscribe();
        break;
      } catch (err) {
        const retryable =
          err instanceof AgentConnectionError &&
          (err.code === 'AGENT_UNREACHABLE' || err.status === 503 || err.status === 404);
        if (!retryable || Date.now() >= deadline) {
          this.#close('agent-lost', err as Error);
          throw err;
        }
        this.#log.debug('subscribe failed; retrying', { attempt, error: describeError(err) });
        await delay(Math.min(1000, 50 * 2 ** attempt, Math.max(0, deadline - Date.now())));
      }
    }
    await Promise.race([firstSubscribed, this.#closedPromise]);
    if (this.#o.heartbeatIntervalMs > 0) {
      this.#heartbeatTimer = setInterval(() => {
        if (this.#connected) this.#conn.call({ type: 'HEARTBEAT' }).catch(() => {});
      }, this.#o.heartbeatIntervalMs);
      this.#heartbeatTimer.unref();
    }
  }

  #subscribe(): Promise<void> {
    const unacknowledgedTasks: TaskInfo[] = [];
    for (const run of this.#tasks.values()) {
      if (run.acked) continue;
      try {
        unacknowledgedTasks.push(taskInfoOf(run));
      } catch (err) {
        // Only a TaskInfo the fast LAUNCH path accepted but the full decoder does not: the agent
        // will have to find the task through its updates.
        this.#log.warn('a launched TaskInfo cannot be decoded; not listed on re-subscription', {
          taskId: run.id,
          error: describeError(err),
        });
      }
    }
    const pending = [...this.#unacked.values()];
    for (const u of pending) u.sent = true;
    const unacknowledgedUpdates = pending.map((u) => u.update);
    const subscribe: NonNullable<ExecutorCall['subscribe']> = {};
    if (unacknowledgedTasks.length > 0) subscribe.unacknowledged_tasks = unacknowledgedTasks;
    if (unacknowledgedUpdates.length > 0) subscribe.unacknowledged_updates = unacknowledgedUpdates;
    return this.#conn.subscribe(subscribe, {
      onEvent: (event) => this.#onEvent(event),
      acksDue: () => this.#unacked.size > 0,
      onLaunch: (task) => {
        try {
          this.#onLaunch(task);
        } catch (err) {
          this.#log.error('failed to handle an event', { type: 'LAUNCH', error: describeError(err) });
        }
      },
      onEnd: (error) => this.#onStreamEnd(error),
    });
  }

  #onStreamEnd(error: Error | undefined): void {
    const wasConnected = this.#connected;
    this.#connected = false;
    this.#notify();
    // While shutting down, the shutdown itself finishes (its wait for acknowledgements ends now).
    if (this.#closed || this.#shuttingDown) return;
    this.#log.warn('agent connection lost', {
      error: error ? describeError(error) : 'end of stream',
      checkpoint: this.#o.environment.checkpoint,
    });
    if (!this.#o.environment.checkpoint) {
      void this.#terminate(
        'agent-lost',
        new AgentConnectionError('AGENT_UNREACHABLE', 'the agent connection was lost', { cause: error }),
      );
      return;
    }
    if (wasConnected || !this.#recovering) void this.#recover();
  }

  /** Re-subscribes with the unacknowledged tasks and updates until it works or recovery times out (§3.10). */
  async #recover(): Promise<void> {
    if (this.#recovering) return;
    this.#recovering = true;
    const env = this.#o.environment;
    this.#recoveryTimer ??= setTimeout(() => {
      void this.#terminate(
        'recovery-timeout',
        new AgentConnectionError(
          'AGENT_UNREACHABLE',
          `the agent did not come back within MESOS_RECOVERY_TIMEOUT (${env.recoveryTimeoutMs} ms)`,
        ),
      );
    }, env.recoveryTimeoutMs);
    try {
      for (let attempt = 1; !this.#shuttingDown; attempt++) {
        await delay(Math.random() * env.subscriptionBackoffMaxMs);
        if (this.#shuttingDown) return;
        try {
          this.#log.info('re-subscribing', {
            attempt,
            unacknowledgedUpdates: this.#unacked.size,
          });
          await this.#subscribe();
          return;
        } catch (err) {
          this.#log.debug('re-subscribe failed', { attempt, error: describeError(err) });
        }
      }
    } finally {
      this.#recovering = false;
    }
  }

  #onEvent(event: ExecutorEvent): void {
    try {
      switch (event.type) {
        case 'SUBSCRIBED':
          this.#onSubscribed(event.subscribed);
          return;
        case 'LAUNCH':
          if (event.launch) this.#onLaunch(event.launch.task);
          return;
        case 'LAUNCH_GROUP':
          if (event.launch_group) this.#onLaunchGroup(event.launch_group.task_group.tasks ?? []);
          return;
        case 'KILL':
          if (event.kill) this.#onKill(event.kill.task_id.value, event.kill.kill_policy);
          return;
        case 'ACKNOWLEDGED':
          if (event.acknowledged)
            this.#onAcknowledged(event.acknowledged.task_id.value, event.acknowledged.uuid);
          return;
        case 'MESSAGE':
          if (event.message) this.#onMessage(event.message.data);
          return;
        case 'SHUTDOWN':
          this.#log.info('SHUTDOWN received', { tasks: this.#tasks.size });
          void this.#shutdown('shutdown');
          return;
        case 'ERROR': {
          const message = event.error?.message ?? 'unknown error';
          this.#log.error('the agent sent an ERROR event', { message });
          void this.#shutdown('agent-error', new AgentConnectionError('AGENT_ERROR', message));
          return;
        }
        case 'HEARTBEAT':
          this.#log.trace('heartbeat');
          return;
        default:
          this.#log.debug('ignored an event of unknown type', { type: event.type });
      }
    } catch (err) {
      // Never let one event break the stream: log, and carry on.
      this.#log.error('failed to handle an event', { type: event.type, error: describeError(err) });
    }
  }

  #onSubscribed(subscribed: mesos.v1.executor.Event.Subscribed | undefined): void {
    this.#connected = true;
    if (this.#recoveryTimer !== undefined) clearTimeout(this.#recoveryTimer);
    this.#recoveryTimer = undefined;
    const agentId = subscribed?.agent_info.id?.value;
    if (agentId) this.#agentId = agentId;
    const capabilities = subscribed?.framework_info.capabilities;
    if (capabilities) this.#taskKillingState = capabilities.some((c) => c.type === 'TASK_KILLING_STATE');
    this.#log.info(this.#subscribedOnce ? 're-subscribed' : 'subscribed', {
      agentId: this.#agentId,
      containerId: subscribed?.container_id?.value,
      unacknowledgedUpdates: this.#unacked.size,
    });
    this.#subscribedOnce = true;
    // Updates made after the SUBSCRIBE was sent (so not listed in it) go out now.
    for (const pending of this.#unacked.values()) if (!pending.sent) this.#postUpdate(pending);
    this.#onFirstSubscribed?.();
    this.#onFirstSubscribed = undefined;
    this.#checkIdle();
  }

  // ---------------------------------------------------------------------------------------------
  // Launch and run

  #onLaunch(task: TaskInfo | LaunchedTask): void {
    const run = this.#register(task);
    if (!run) return;
    if (this.#shuttingDown) {
      this.#finish(run, 'TASK_KILLED', { message: `${KILLED}: the executor is shutting down` });
      return;
    }
    const rejected = this.#prepare(run);
    if (rejected) {
      this.#reject(run, rejected);
      return;
    }
    this.#enqueue(run);
    this.#pump();
  }

  /**
   * LAUNCH_GROUP: the tasks run as one group. If any member cannot run (bad envelope, unknown
   * task), it fails and the others are killed before they start; later, a member that fails or
   * is killed gets the others killed (see `#finish`).
   */
  #onLaunchGroup(infos: readonly TaskInfo[]): void {
    const group: TaskGroup = { runs: [], killing: false };
    for (const info of infos) {
      const run = this.#register(info);
      if (!run) continue;
      run.group = group;
      group.runs.push(run);
    }
    if (group.runs.length === 0) return;
    if (this.#shuttingDown) {
      group.killing = true;
      for (const run of group.runs)
        this.#finish(run, 'TASK_KILLED', { message: `${KILLED}: the executor is shutting down` });
      return;
    }
    const rejected = group.runs.map((run) => this.#prepare(run));
    const first = rejected.findIndex((r) => r !== undefined);
    if (first >= 0) {
      // Every invalid member fails; the others are killed before they start.
      group.killing = true;
      group.runs.forEach((run, i) => {
        const why = rejected[i];
        if (why) this.#reject(run, why);
      });
      const message = `${KILLED}: task ${group.runs[first]!.id} of its task group ended in TASK_FAILED`;
      for (const run of group.runs) this.#kill(run, 0, message);
      return;
    }
    for (const run of group.runs) this.#enqueue(run);
    this.#pump();
  }

  /** A new run for a launched task, or undefined (logged) for a task id already known. */
  #register(task: TaskInfo | LaunchedTask): TaskRun | undefined {
    const id = 'taskId' in task ? task.taskId : task.task_id.value;
    if (this.#tasks.has(id)) {
      this.#log.warn('ignored a second LAUNCH of a known task', { taskId: id });
      return undefined;
    }
    this.#launched++;
    this.#clearIdle();
    const run: TaskRun =
      'taskId' in task
        ? {
            id,
            data: task.data,
            killGraceNs: task.killGraceNs,
            infoBytes: task.taskInfo,
            state: 'queued',
            acked: false,
            runningDue: 0,
          }
        : {
            id,
            data: task.data,
            killGraceNs: nanoseconds(task.kill_policy?.grace_period),
            info: task,
            state: 'queued',
            acked: false,
            runningDue: 0,
          };
    this.#tasks.set(id, run);
    return run;
  }

  /** TASK_FAILED for a task that cannot run, with a non-retryable failure naming why. */
  #reject(run: TaskRun, rejected: LaunchError): void {
    const failure = toWireFailure(rejected, { includeStack: false });
    this.#log.warn('task rejected', { taskId: run.id, code: rejected.code, reason: rejected.message });
    this.#finish(run, 'TASK_FAILED', {
      message: failureSummary(failure),
      reason: 'REASON_TASK_INVALID',
      data: encodeResultEnvelope({ ok: false, failure }),
    });
  }

  /** Decodes the launch envelope and finds the handler; returns why the task cannot run, if so. */
  #prepare(run: TaskRun): LaunchError | undefined {
    const data = run.data;
    if (data === undefined || data.length === 0) {
      return new LaunchError(
        'BAD_LAUNCH_ENVELOPE',
        `task ${run.id} has no launch envelope in TaskInfo.data (was it launched by a mesoskit scheduler?)`,
      );
    }
    let launch: LaunchEnvelope;
    try {
      launch = decodeLaunchEnvelope(data, { maxBytes: this.#o.maxLaunchBytes });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return new LaunchError('BAD_LAUNCH_ENVELOPE', `task ${run.id} has a bad launch envelope: ${message}`, {
        cause: err,
      });
    }
    const binding = this.#o.handlers.get(launch.task);
    if (!binding) {
      const known = this.#o.handlers.list.map((b) => b.name).join(', ') || 'none';
      return new LaunchError(
        'UNKNOWN_TASK',
        `no handler for task ${JSON.stringify(launch.task)} in this executor (it handles: ${known})`,
      );
    }
    if (binding.version !== launch.taskVersion) {
      return new LaunchError(
        'TASK_VERSION_MISMATCH',
        `task ${JSON.stringify(launch.task)} was launched at version ${launch.taskVersion}, but this executor handles version ${binding.version}`,
      );
    }
    run.binding = binding;
    run.launch = launch;
    return undefined;
  }

  #enqueue(run: TaskRun): void {
    run.inQueue = true;
    this.#queue.push(run);
    this.#queued++;
  }

  /** Starts queued tasks while slots are free (executor-wide and per handler). */
  #pump(): void {
    const queue = this.#queue;
    for (let i = this.#queueHead; i < queue.length && this.#running < this.#o.concurrency; i++) {
      const run = queue[i]!;
      if (run.state === 'queued') {
        const limit = run.binding!.options.concurrency;
        if (limit !== undefined && (this.#perHandler.get(run.binding!.name) ?? 0) >= limit) continue;
        this.#queued--;
        run.inQueue = false;
        this.#startRun(run);
      }
      if (i === this.#queueHead) this.#queueHead++;
    }
    // Drop the consumed head now and then (amortised O(1) per run).
    if (this.#queueHead > 1024 && this.#queueHead * 2 > queue.length) {
      this.#queue = queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
  }

  #startRun(run: TaskRun): void {
    const binding = run.binding!;
    const launch = run.launch!;
    run.state = 'running';
    this.#running++;
    const limit = binding.options.concurrency;
    if (limit !== undefined)
      this.#perHandler.set(binding.name, (this.#perHandler.get(binding.name) ?? 0) + 1);
    if (this.#o.runningUpdateDelayMs <= 0) this.#sendUpdate(run, 'TASK_RUNNING', undefined);
    else this.#deferRunning(run);
    const ctx = new RunContext(run, launch, this.#host);
    let result: unknown;
    if (binding.options.isolation === 'worker') result = this.#runInWorker(run, ctx, launch.input);
    else {
      try {
        result = binding.fn(launch.input as never, ctx);
        if (!isThenable(result)) {
          // A synchronous handler: settle with the others of this tick in one microtask.
          this.#settleSoon(run, true, result);
          return;
        }
      } catch (err) {
        this.#settleSoon(run, false, err);
        return;
      }
    }
    Promise.resolve(result).then(
      (output) => this.#onSettled(run, true, output),
      (error: unknown) => this.#onSettled(run, false, error),
    );
  }

  /**
   * Runs settled synchronously, waiting for the microtask that reports them. Runs that the
   * reports start (freed slots) and that settle synchronously too join the same list, so a
   * stream of short tasks costs one microtask, not one each.
   */
  readonly #settledSoon: { run: TaskRun; ok: boolean; value: unknown }[] = [];
  #drainScheduled = false;

  #settleSoon(run: TaskRun, ok: boolean, value: unknown): void {
    this.#settledSoon.push({ run, ok, value });
    if (this.#drainScheduled) return;
    this.#drainScheduled = true;
    queueMicrotask(this.#drainSettled);
  }

  readonly #drainSettled = (): void => {
    const list = this.#settledSoon;
    for (let i = 0; i < list.length; i++) {
      const { run, ok, value } = list[i]!;
      try {
        this.#onSettled(run, ok, value);
      } catch (err) {
        this.#log.error('failed to report a settled task', { taskId: run.id, error: describeError(err) });
      }
    }
    list.length = 0;
    this.#drainScheduled = false;
  };

  /**
   * TASK_RUNNING waits `runningUpdateDelayMs`, so a run that settles sooner goes straight to its
   * terminal update. One timer serves every run: they share the delay, so the queue is in due order.
   */
  #deferRunning(run: TaskRun): void {
    run.runningDue = performance.now() + this.#o.runningUpdateDelayMs;
    this.#runningQueue.push(run);
    if (this.#runningTimer === undefined) this.#armRunningTimer(this.#o.runningUpdateDelayMs);
  }

  #armRunningTimer(ms: number): void {
    this.#runningTimer = setTimeout(this.#onRunningTimer, ms);
  }

  readonly #onRunningTimer = (): void => {
    this.#runningTimer = undefined;
    const now = performance.now();
    const queue = this.#runningQueue;
    let i = 0;
    for (; i < queue.length; i++) {
      const run = queue[i]!;
      if (run.runningDue === 0) continue; // settled or killed meanwhile
      if (run.runningDue > now) break;
      run.runningDue = 0;
      if (run.state === 'running') this.#sendUpdate(run, 'TASK_RUNNING', undefined);
    }
    queue.splice(0, i);
    if (queue.length > 0 && !this.#closed) this.#armRunningTimer(Math.max(1, queue[0]!.runningDue - now));
  };

  /** What a run's context calls back into (one object for all runs). */
  readonly #host: ContextHost = {
    logger: () => this.#o.logger,
    env: () => this.#o.environment,
    agentId: () => this.#agentId,
    messageBufferSize: () => this.#o.messageBufferSize,
    send: (run, data) => {
      if (run.state === 'done') return;
      this.#postMessage(encodeMessageEnvelope({ kind: 'message', taskId: run.id, data }));
    },
    progress: (run, value) => {
      if (run.state !== 'running') return;
      run.throttle ??= new Throttle(this.#o.progressIntervalMs, (v) => {
        try {
          this.#postMessage(encodeMessageEnvelope({ kind: 'progress', taskId: run.id, data: v }));
        } catch (err) {
          this.#taskLog(run).warn('progress value cannot be encoded; dropped', { error: describeError(err) });
        }
      });
      run.throttle.push(value);
    },
  };

  #taskLog(run: TaskRun): Logger {
    return childLogger(this.#o.logger, {
      taskId: run.id,
      task: run.launch?.task,
      attempt: run.launch?.attempt,
    });
  }

  /** Runs a handler in the worker pool, relaying the context (§ worker-pool.ts). */
  #runInWorker(run: TaskRun, ctx: TaskContext, input: unknown): Promise<unknown> {
    this.#pool ??= new WorkerPool(this.#o.handlers.source!, this.#o.workerThreads);
    const pool = this.#pool;
    run.worker = true;
    signalOf(run).addEventListener('abort', () => pool.abort(run.id), { once: true });
    const getLog = (): Logger => ctx.log;
    return pool.run(
      {
        id: run.id,
        task: ctx.task,
        input,
        bufferSize: this.#o.messageBufferSize,
        ctx: {
          taskId: ctx.taskId,
          task: ctx.task,
          attempt: ctx.attempt,
          sandbox: ctx.sandbox,
          executorId: ctx.executorId,
          frameworkId: ctx.frameworkId,
          agentId: ctx.agentId,
        },
      },
      {
        onSend: (data) => {
          try {
            ctx.send(data);
          } catch (err) {
            getLog().warn('message from a worker cannot be encoded; dropped', { error: describeError(err) });
          }
        },
        onProgress: (value) => ctx.progress(value),
        onLog: (level, message, meta) => getLog()[level](message, meta),
      },
    );
  }

  #onSettled(run: TaskRun, ok: boolean, value: unknown): void {
    if (run.state === 'done') {
      this.#log.debug('a killed task settled after its grace period; result dropped', { taskId: run.id });
      return;
    }
    if (run.state === 'killing') {
      this.#finish(run, 'TASK_KILLED', { message: run.killMessage ?? KILLED });
      return;
    }
    if (ok) {
      let data: Uint8Array;
      try {
        data = encodeResultEnvelope({ ok: true, output: value }).slice();
      } catch (err) {
        const failure = { ...toWireFailure(err, { includeStack: this.#o.includeStack }), retryable: false };
        failure.message = `the handler's output cannot be sent: ${failure.message}`;
        this.#fail(run, failure);
        return;
      }
      this.#finish(run, 'TASK_FINISHED', { message: 'Task finished', data });
      return;
    }
    this.#fail(run, toWireFailure(value, { includeStack: this.#o.includeStack }));
  }

  #fail(run: TaskRun, failure: WireFailure): void {
    const message = failureSummary(failure);
    this.#log.info('task failed', { taskId: run.id, failure: message, retryable: failure.retryable });
    this.#finish(run, 'TASK_FAILED', { message, data: encodeResultEnvelope({ ok: false, failure }).slice() });
  }

  /** Ends a run: frees its slot, sends its terminal update, starts queued work. */
  #finish(run: TaskRun, state: TaskState, extra: Partial<TaskStatus>): void {
    if (run.state === 'done') return;
    const wasQueued = run.state === 'queued';
    if (wasQueued) {
      // Rejected launches (and those refused while shutting down) never entered the queue.
      if (run.inQueue) this.#queued--;
      run.inQueue = false;
    } else {
      this.#running--;
      const binding = run.binding!;
      if (binding.options.concurrency !== undefined)
        this.#perHandler.set(binding.name, (this.#perHandler.get(binding.name) ?? 1) - 1);
    }
    run.state = 'done';
    run.runningDue = 0;
    if (run.killTimer !== undefined) clearTimeout(run.killTimer);
    run.messages?.close();
    run.throttle?.stop();
    run.terminalUuid = this.#sendUpdate(run, state, extra);
    if (run.group && (state === 'TASK_FAILED' || state === 'TASK_KILLED')) this.#killGroup(run, state);
    this.#pump();
    this.#checkIdle();
    this.#notify();
  }

  // ---------------------------------------------------------------------------------------------
  // Kill, shutdown, idle

  #onKill(taskId: string, policy: mesos.v1.KillPolicy | undefined): void {
    const run = this.#tasks.get(taskId);
    if (!run || run.state === 'done') {
      this.#log.debug('KILL for a task that is not running; ignored', { taskId });
      return;
    }
    const graceMs =
      durationMs(policy?.grace_period) ??
      (run.killGraceNs === undefined ? undefined : run.killGraceNs / 1e6) ??
      this.#o.killGracePeriodMs;
    this.#log.info('KILL received', { taskId, graceMs });
    this.#kill(run, graceMs, KILLED);
  }

  /**
   * A member of a task group failed or was killed: kill the others, as Mesos' default executor
   * does (each with the executor's default grace, TASK_KILLING first when the framework has the
   * capability, then TASK_KILLED; no reason). Not while shutting down (SHUTDOWN kills them all).
   */
  #killGroup(cause: TaskRun, state: TaskState): void {
    const group = cause.group!;
    if (group.killing || this.#shuttingDown) return;
    group.killing = true;
    const others = group.runs.filter((r) => r !== cause && r.state !== 'done');
    if (others.length === 0) return;
    this.#log.info('killing the task group of a task that ended', {
      taskId: cause.id,
      state,
      tasks: others.map((r) => r.id),
    });
    const message = `${KILLED}: task ${cause.id} of its task group ended in ${state}`;
    for (const run of others)
      if (run.state !== 'killing') this.#kill(run, this.#o.killGracePeriodMs, message);
  }

  /**
   * Aborts a run's signal; reports TASK_KILLED when it settles, at the latest after `graceMs`.
   * A running task first gets TASK_KILLING when the framework has the TASK_KILLING_STATE
   * capability (and `announce` is on: not when the agent is gone).
   */
  #kill(run: TaskRun, graceMs: number, message: string, announce = true): void {
    if (run.state === 'done') return;
    if (run.state === 'queued') {
      const before = message === KILLED ? `${KILLED} before it started` : `${message} (before it started)`;
      this.#finish(run, 'TASK_KILLED', { message: before });
      return;
    }
    const deadline = Date.now() + graceMs;
    if (run.state === 'killing') {
      // A second KILL: harmless, but it may shorten the grace.
      if (run.killDeadline !== undefined && deadline >= run.killDeadline) return;
      clearTimeout(run.killTimer);
    } else {
      run.state = 'killing';
      run.killMessage = message;
      run.throttle?.stop();
      run.messages?.close();
      run.runningDue = 0;
      if (announce && this.#taskKillingState) this.#sendUpdate(run, 'TASK_KILLING', undefined);
      run.aborted = abortReason();
      run.controller?.abort(run.aborted);
    }
    run.killDeadline = deadline;
    run.killTimer = setTimeout(() => {
      this.#log.warn(
        'the handler did not stop within its kill grace period; reported killed, result dropped',
        {
          taskId: run.id,
          graceMs,
        },
      );
      this.#finish(run, 'TASK_KILLED', {
        message: `${message}; the handler did not stop within ${graceMs} ms`,
      });
      // A worker thread can be stopped for good; an inline handler can only be left behind.
      if (run.worker) this.#pool?.terminate(run.id);
    }, graceMs);
  }

  async #shutdown(reason: ExecutorExitReason, error?: Error): Promise<void> {
    if (this.#shuttingDown || this.#closed) return;
    this.#shuttingDown = true;
    this.#clearIdle();
    const started = Date.now();
    const budget = this.#o.environment.shutdownGracePeriodMs;
    const killWindow = Math.min(this.#o.killGracePeriodMs, budget / 2);
    for (const run of [...this.#tasks.values()])
      this.#kill(run, killWindow, `${KILLED}: the executor is shutting down`);
    await this.#until(() => this.#active() === 0, Number.POSITIVE_INFINITY);
    const ackDeadline = started + budget * 0.8;
    await this.#until(() => this.#unacked.size === 0 || !this.#connected, ackDeadline - Date.now());
    if (this.#unacked.size > 0) {
      this.#log.warn('exiting with unacknowledged status updates', { count: this.#unacked.size });
    }
    this.#log.info('executor exiting', { reason, tasks: this.#launched });
    this.#close(reason, error);
  }

  /** The agent is gone: abort everything, give handlers a moment to stop, close without updates. */
  async #terminate(reason: ExecutorExitReason, error: Error): Promise<void> {
    if (this.#closed) return;
    this.#shuttingDown = true;
    this.#clearIdle();
    const killWindow = Math.min(this.#o.killGracePeriodMs, this.#o.environment.shutdownGracePeriodMs / 2);
    for (const run of [...this.#tasks.values()])
      this.#kill(run, killWindow, `${KILLED}: the agent went away`, false);
    await this.#until(() => this.#active() === 0, Number.POSITIVE_INFINITY);
    this.#log.error('executor exiting', { reason, error: error.message });
    this.#close(reason, error);
  }

  #close(reason: ExecutorExitReason, error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#shuttingDown = true;
    this.#clearIdle();
    if (this.#heartbeatTimer !== undefined) clearInterval(this.#heartbeatTimer);
    if (this.#recoveryTimer !== undefined) clearTimeout(this.#recoveryTimer);
    if (this.#runningTimer !== undefined) clearTimeout(this.#runningTimer);
    for (const run of this.#tasks.values()) if (run.killTimer !== undefined) clearTimeout(run.killTimer);
    this.#conn.close();
    this.#pool?.close();
    if (this.#processHandler) {
      process.off('uncaughtException', this.#processHandler);
      process.off('unhandledRejection', this.#processHandler);
    }
    this.#notify();
    const exitCode = reason === 'shutdown' || reason === 'idle' || reason === 'stopped' ? 0 : 1;
    this.#resolveClosed({ reason, ...(error !== undefined && { error }), exitCode });
  }

  #active(): number {
    return this.#queued + this.#running;
  }

  #checkIdle(): void {
    if (this.#o.idleTimeoutMs <= 0 || this.#shuttingDown || this.#idleTimer !== undefined) return;
    if (this.#active() > 0 || !this.#subscribedOnce) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      this.#log.info('idle timeout reached', { idleTimeoutMs: this.#o.idleTimeoutMs });
      void this.#shutdown('idle');
    }, this.#o.idleTimeoutMs);
  }

  #clearIdle(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  /** Waits until `done()` holds (re-checked on every state change) or `timeoutMs` passed. */
  async #until(done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = Number.isFinite(left) ? setTimeout(resolve, left) : undefined;
        this.#wake.push(() => {
          if (timer !== undefined) clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  #notify(): void {
    if (this.#wake.length === 0) return;
    for (const w of this.#wake.splice(0)) w();
  }

  // ---------------------------------------------------------------------------------------------
  // Updates and messages

  /** Sends a status update and keeps it until ACKNOWLEDGED; returns its uuid in hex. */
  #sendUpdate(run: TaskRun, state: TaskState, extra: Partial<TaskStatus> | undefined): number {
    let uuid = uuidV4();
    let key = uuidKey(uuid);
    while (this.#unacked.has(key)) {
      uuid = uuidV4(); // 48 random bits alike: astronomically rare, but keys must be unique
      key = uuidKey(uuid);
    }
    const status: TaskStatus = {
      task_id: { value: run.id },
      state,
      source: 'SOURCE_EXECUTOR',
      executor_id: this.#executorIdValue,
      timestamp: Date.now() / 1000,
      uuid,
    };
    if (extra !== undefined) {
      if (extra.message !== undefined) status.message = extra.message;
      if (extra.reason !== undefined) status.reason = extra.reason;
      if (extra.data !== undefined) status.data = extra.data;
    }
    const pending: PendingUpdate = { taskId: run.id, update: { status }, sent: false };
    this.#unacked.set(key, pending);
    if (this.#connected) this.#postUpdate(pending);
    return key;
  }

  #postUpdate(pending: PendingUpdate): void {
    pending.sent = true;
    this.#conn.send({ type: 'UPDATE', update: pending.update }, this.#updatePosted, pending);
  }

  readonly #updatePosted = (error: Error | undefined, code: number, pending: PendingUpdate): void => {
    const { status } = pending.update;
    // Acknowledged already (the answer can come later: answers are read in batches), or closing.
    if (this.#closed || this.#unacked.get(uuidKey(status.uuid!)) !== pending) return;
    if (error !== undefined) {
      this.#log.warn('status update could not be sent', {
        taskId: pending.taskId,
        state: status.state,
        error: describeError(error),
      });
      // A broken call connection is a disconnection (§3.10): re-subscribe (or exit).
      if (this.#connected) this.#conn.breakStream();
      return;
    }
    if (code !== 202) {
      this.#log.warn('the agent did not accept a status update; it is resent on re-subscription', {
        taskId: pending.taskId,
        state: status.state,
        status: code,
      });
    }
  };

  #onAcknowledged(taskId: string, uuid: Uint8Array): void {
    const key = uuidKey(uuid);
    const pending = this.#unacked.get(key);
    if (!pending || !sameBytes(pending.update.status.uuid!, uuid)) {
      this.#log.debug('ACKNOWLEDGED for an unknown update', { taskId });
      return;
    }
    this.#unacked.delete(key);
    const run = this.#tasks.get(taskId);
    if (run) {
      run.acked = true;
      if (run.terminalUuid === key) this.#tasks.delete(taskId);
    }
    this.#notify();
  }

  #onMessage(data: Uint8Array): void {
    let envelope: ReturnType<typeof decodeMessageEnvelope>;
    try {
      envelope = decodeMessageEnvelope(data);
    } catch (err) {
      this.#log.warn('dropped a framework message that is not a mesoskit message envelope', {
        bytes: data.length,
        error: err instanceof EnvelopeError ? err.message : describeError(err),
      });
      return;
    }
    const taskId = envelope.taskId;
    const run = taskId === undefined ? undefined : this.#tasks.get(taskId);
    if (run?.state !== 'running') {
      this.#log.debug('dropped a framework message for no running task', { taskId });
      return;
    }
    if (run.worker) {
      this.#pool?.message(run.id, envelope.data);
      return;
    }
    run.messages ??= new MessageQueue(this.#o.messageBufferSize);
    run.messages.push(envelope.data);
  }

  #postMessage(bytes: Uint8Array): void {
    if (!this.#connected) {
      this.#log.debug('framework message dropped while disconnected');
      return;
    }
    this.#conn.call({ type: 'MESSAGE', message: { data: bytes } }).then(
      (code) => {
        if (code !== 202) this.#log.debug('framework message not accepted', { status: code });
      },
      (err: unknown) => this.#log.debug('framework message not sent', { error: describeError(err) }),
    );
  }
}

/** What a {@link RunContext} needs from the runtime. */
interface ContextHost {
  logger(): Logger;
  env(): ResolvedExecutorOptions['environment'];
  agentId(): string;
  messageBufferSize(): number;
  send(run: TaskRun, data: unknown): void;
  progress(run: TaskRun, value: unknown): void;
}

/** The run's AbortSignal, made on first use (aborted already if the run was killed before). */
function signalOf(run: TaskRun): AbortSignal {
  if (run.controller === undefined) {
    run.controller = new AbortController();
    if (run.aborted !== undefined) run.controller.abort(run.aborted);
  }
  return run.controller.signal;
}

/**
 * The `ctx` of one run. Plain fields, plus getters that make the costlier parts (signal,
 * logger, message queue, bound `send`/`progress`) only when the handler uses them, so a short
 * task that touches none of them costs one small object.
 */
class RunContext implements TaskContext {
  readonly taskId: string;
  readonly task: string;
  readonly attempt: number;
  readonly sandbox: string;
  readonly executorId: string;
  readonly frameworkId: string;
  readonly agentId: string;
  readonly #run: TaskRun;
  readonly #host: ContextHost;
  #log: Logger | undefined;
  #send: ((data: unknown) => void) | undefined;
  #progress: ((value: unknown) => void) | undefined;

  constructor(run: TaskRun, launch: LaunchEnvelope, host: ContextHost) {
    const env = host.env();
    this.taskId = run.id;
    this.task = launch.task;
    this.attempt = launch.attempt;
    this.sandbox = env.sandbox;
    this.executorId = env.executorId;
    this.frameworkId = env.frameworkId;
    this.agentId = host.agentId();
    this.#run = run;
    this.#host = host;
  }

  get signal(): AbortSignal {
    return signalOf(this.#run);
  }

  get log(): Logger {
    this.#log ??= childLogger(this.#host.logger(), {
      taskId: this.taskId,
      task: this.task,
      attempt: this.attempt,
    });
    return this.#log;
  }

  get send(): (data: unknown) => void {
    this.#send ??= (data: unknown) => this.#host.send(this.#run, data);
    return this.#send;
  }

  get progress(): (value: unknown) => void {
    this.#progress ??= (value: unknown) => this.#host.progress(this.#run, value);
    return this.#progress;
  }

  get messages(): AsyncIterable<unknown> {
    const run = this.#run;
    if (run.messages === undefined) {
      run.messages = new MessageQueue(this.#host.messageBufferSize());
      if (run.state !== 'running') run.messages.close();
    }
    return run.messages;
  }
}

const UUID_POOL = 16 * 256;
let uuidPool = new Uint8Array(0);
let uuidAt = UUID_POOL;

/** A random RFC 4122 v4 uuid; random bytes are drawn 4 KiB at a time (one syscall per 256 uuids). */
function uuidV4(): Uint8Array {
  if (uuidAt >= UUID_POOL) {
    uuidPool = randomFillSync(new Uint8Array(UUID_POOL));
    uuidAt = 0;
  }
  const b = uuidPool.subarray(uuidAt, uuidAt + 16);
  uuidAt += 16;
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return b;
}

/** The first 48 bits of a uuid (all random in a v4 uuid) as a number: the key of an unacknowledged update. */
function uuidKey(b: Uint8Array): number {
  if (b.length < 6) return -1;
  return ((b[0]! << 16) | (b[1]! << 8) | b[2]!) * 0x1000000 + ((b[3]! << 16) | (b[4]! << 8) | b[5]!);
}

/** A value `await` would treat as a promise (reading `then` may throw: the caller catches it). */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function durationMs(d: mesos.v1.DurationInfo | undefined): number | undefined {
  const ns = nanoseconds(d);
  return ns === undefined ? undefined : ns / 1e6;
}

function nanoseconds(d: mesos.v1.DurationInfo | undefined): number | undefined {
  if (d === undefined) return undefined;
  const ns = Number(d.nanoseconds);
  return Number.isFinite(ns) && ns >= 0 ? ns : undefined;
}

/** A run's TaskInfo, decoded from its protobuf bytes on first use (re-subscription). */
function taskInfoOf(run: TaskRun): TaskInfo {
  // codecFor compiles the codec on first use: not at module load (cold start).
  run.info ??= codecFor<TaskInfo>('mesos.v1.TaskInfo').fromProtobuf(run.infoBytes!);
  return run.info;
}

function abortReason(): Error {
  const err = new Error('the task was killed');
  err.name = 'AbortError';
  return err;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
