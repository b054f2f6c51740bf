/**
 * `TaskScheduler`: submit typed tasks, get typed results. Built on {@link MesosSchedulerClient}:
 * it queues tasks, packs them into offers, starts one executor per agent per executor
 * definition, retries by policy, kills on timeout or cancel, reconciles after every
 * (re)subscribe, and settles every submit exactly once.
 *
 * @module
 */
import {
  childLogger,
  decodeMessageEnvelope,
  decodeResultEnvelope,
  type ExecutorInfo,
  encodeLaunchEnvelope,
  encodeMessageEnvelope,
  InvalidOptionsError,
  isTerminalTaskState,
  type Logger,
  type mesos,
  type Offer,
  type TaskDefinition,
  type TaskInfo,
  type TaskStatus,
} from '@mesoskit/protocol';
import {
  type ConnectionStatus,
  MesosHttpError,
  MesosSchedulerClient,
  type SubscribedInfo,
} from '../client/index.js';
import {
  RemoteTaskError,
  SchedulerAbortedError,
  TaskCancelledError,
  TaskFailedError,
  TaskKilledError,
  TaskLostError,
  TaskTimeoutError,
} from './errors.js';
import type { NodeExecutor } from './executors.js';
import {
  type AttemptFailure,
  backoffDelay,
  type ResolvedRetry,
  type ResolvedTaskSchedulerOptions,
  resolveRetry,
  resolveTaskSchedulerOptions,
  type SubmitOptions,
  type TaskSchedulerOptions,
  taskScalars,
} from './options.js';
import { type AgentCapacity, describePending, type PackableTask, type TaskConstraints } from './packing.js';
import { addScalars, offeredScalars, ResourcePool, type Scalars, shortOf } from './resources.js';
import { RunEventQueue, type TaskRunEvent } from './run-events.js';

/** What `submit()` returns. */
export interface TaskHandle<O> {
  /** This submit's id (each attempt's Mesos task id is `<taskId>.<attempt>`). */
  readonly taskId: string;
  /** Resolves with the typed output, or rejects with a `TaskFailedError`, `TaskTimeoutError`, … */
  result(): Promise<O>;
  /**
   * The task's events from now on, starting with its current state; ends once it settled.
   * A single consumer.
   */
  events(): AsyncIterable<TaskRunEvent>;
  /** Kills the task (or takes it off the queue); `result()` rejects with `TaskCancelledError`. */
  cancel(reason?: string): void;
  /** Sends a best-effort framework message to the running attempt's handler (`ctx.messages`). */
  send(data: unknown): Promise<void>;
}

/** One `map()` result. */
export interface MapResult<I, O> {
  /** The input's position in the iterable, from 0. */
  index: number;
  input: I;
  output: O;
}

export interface MapOptions extends SubmitOptions {
  /** Tasks in flight at once; inputs are pulled only as they finish. @default 256 */
  concurrency?: number;
  /** Yield results in input order (buffering at most `concurrency`). @default false */
  ordered?: boolean;
}

/** Scheduler-wide counters, readable at any time (`scheduler.counters()`). */
export interface TaskSchedulerCounters {
  submitted: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  timedOut: number;
  retries: number;
  /** Tasks in ACCEPT calls the master accepted. */
  launches: number;
  acceptCalls: number;
  /** ACCEPT calls that failed (their tasks went back to the queue). */
  acceptsFailed: number;
  /**
   * Launches the master refused because the executor they were sent to had ended (we had not
   * heard yet): requeued for a new executor, not counted as attempts.
   */
  launchesRequeued: number;
  offersReceived: number;
  offersDeclined: number;
  offersRescinded: number;
  revives: number;
  suppresses: number;
  reconnects: number;
  executorsLaunched: number;
  executorsLost: number;
  messagesReceived: number;
  messagesUndecodable: number;
  /** Status updates by Mesos state, e.g. `{ TASK_RUNNING: 10, TASK_FINISHED: 10 }`. */
  updates: Record<string, number>;
}

/** Scheduler-wide events (`scheduler.on(...)`). */
export interface TaskSchedulerEvents {
  /** Every task event, with the task it is about. */
  task: (event: TaskRunEvent & { taskId: string; task: string }) => void;
  /** Connection states of the underlying client. */
  status: (status: ConnectionStatus) => void;
  /** An offer round: offers received, tasks launched from them, offers declined. */
  offers: (round: { offers: number; launched: number; declined: number; queued: number }) => void;
}

type Settle = { ok: true; output: unknown } | { ok: false; error: Error };

interface Run {
  readonly id: string;
  readonly def: TaskDefinition<unknown, unknown>;
  readonly input: unknown;
  readonly resources: Readonly<Scalars>;
  readonly executor: NodeExecutor;
  readonly constraints: TaskConstraints | undefined;
  readonly labels: mesos.v1.Labels | undefined;
  readonly retry: ResolvedRetry;
  /** Attempts so far (what `maxAttempts` counts; an attempt whose ACCEPT failed does not count). */
  attempts: number;
  /** Launches so far, for Mesos task ids. */
  launchSeq: number;
  current: Attempt | undefined;
  state: 'queued' | 'delayed' | 'launched' | 'settled';
  pendingReason: string | undefined;
  events: RunEventQueue | undefined;
  settledWith: Settle | undefined;
  promise: Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
  detachSignal: (() => void) | undefined;
}

interface Attempt {
  readonly run: Run;
  readonly number: number;
  readonly mesosTaskId: string;
  readonly agentId: string;
  readonly executorId: string;
  /** Launched on an executor we believed running (no room was kept for a new one). */
  readonly reusedExecutor: boolean;
  running: boolean;
}

/** One executor of ours on one agent. */
interface ExecutorSlot {
  readonly executor: NodeExecutor;
  readonly executorId: string;
  /** The exact ExecutorInfo of its first launch: every later launch repeats it. */
  readonly info: ExecutorInfo;
  active: number;
  idleTimer: NodeJS.Timeout | undefined;
}

interface HeldOffer {
  readonly offer: Offer;
  readonly expires: number;
}

const RECONCILIATION = 'REASON_RECONCILIATION';
/** Unsuccessful states that end an attempt without a result envelope. */
const LOST_STATES = new Set([
  'TASK_LOST',
  'TASK_DROPPED',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
  'TASK_UNREACHABLE',
  'TASK_UNKNOWN',
  'TASK_ERROR',
]);

const NO_EXECUTORS: ReadonlySet<string> = new Set();

/** States a task never comes back from (unlike TASK_LOST: a partitioned agent may return). */
const FINAL_STATES = new Set([
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_DROPPED',
  'TASK_GONE',
]);

/** Ended Mesos task ids remembered to recognise late updates (see `#ended`). */
const ENDED_KEPT = 10_000;

/** The start of the master's TASK_ERROR text when a task and its executor do not fit. */
const DOES_NOT_FIT = / required by task and its executor is more than available /;

/** States of a task that still runs (or is about to). */
const ALIVE_STATES = new Set(['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING']);

function randomPrefix(): string {
  return Math.floor(Math.random() * 36 ** 6)
    .toString(36)
    .padStart(6, '0');
}

function errorOf(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Runs typed tasks on a Mesos cluster (or the local cluster).
 *
 * ```ts
 * await using scheduler = await TaskScheduler.connect({
 *   master: 'http://127.0.0.1:5050',
 *   executors: nodeExecutor({ handlers: '/opt/app/handlers.js' }),
 * });
 * const { bytes } = await scheduler.run(resize, { url, width: 128 });
 * ```
 */
export class TaskScheduler implements AsyncDisposable {
  readonly options: ResolvedTaskSchedulerOptions;
  readonly client: MesosSchedulerClient;
  readonly #log: Logger;
  readonly #prefix = randomPrefix();
  #seq = 0;
  /** Queued runs in order; `#queueHead` skips the taken ones (cancelled ones are skipped lazily). */
  #queue: (Run | undefined)[] = [];
  #queueHead = 0;
  #queued = 0;
  readonly #unsettled = new Set<Run>();
  /** Runs by the AbortSignal given to their submit. */
  readonly #signalRuns = new WeakMap<AbortSignal, Set<Run>>();
  readonly #attempts = new Map<string, Attempt>();
  readonly #executors = new Map<string, Map<string, ExecutorSlot>>();
  /**
   * Every executor id launched per agent (`agentId\nexecutorId`). stop() shuts all of them down:
   * an executor that died can be started again by a launch sent before we heard of its death.
   */
  readonly #everLaunched = new Set<string>();
  /** Executor generations per agent and executor name, so a replaced executor gets a new id. */
  readonly #generations = new Map<string, number>();
  readonly #offers = new Map<string, HeldOffer>();
  /** Untracked tasks already sent a KILL (bounded), so redeliveries do not repeat it. */
  readonly #orphansKilled = new Set<string>();
  /**
   * Mesos task ids whose terminal update came (the latest ENDED_KEPT to 2 × ENDED_KEPT): a live
   * state for one of them is an older update arriving late, not a task to kill.
   */
  #ended = new Set<string>();
  #endedBefore = new Set<string>();
  #offerTimer: NodeJS.Timeout | undefined;
  #passScheduled = false;
  #suppressed = false;
  /** When the scheduler last became idle (nothing queued or running); undefined while busy. */
  #idleSince: number | undefined;
  /** Set by SUPPRESS or a long decline filter: new work needs a REVIVE. */
  #needRevive = false;
  #lastReviveAt = 0;
  #reviveTimer: NodeJS.Timeout | undefined;
  #reconcileTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  #abortError: Error | undefined;
  #closed = false;
  #closedError: Error | undefined;
  readonly #closedPromise: Promise<Error | undefined>;
  #closedResolve!: (err: Error | undefined) => void;
  #drainWaiters: (() => void)[] = [];
  readonly #listeners: { [K in keyof TaskSchedulerEvents]: Set<TaskSchedulerEvents[K]> } = {
    task: new Set(),
    status: new Set(),
    offers: new Set(),
  };
  readonly #counters: TaskSchedulerCounters = {
    submitted: 0,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
    timedOut: 0,
    retries: 0,
    launches: 0,
    acceptCalls: 0,
    acceptsFailed: 0,
    launchesRequeued: 0,
    offersReceived: 0,
    offersDeclined: 0,
    offersRescinded: 0,
    revives: 0,
    suppresses: 0,
    reconnects: 0,
    executorsLaunched: 0,
    executorsLost: 0,
    messagesReceived: 0,
    messagesUndecodable: 0,
    updates: {},
  };

  private constructor(options: ResolvedTaskSchedulerOptions) {
    this.options = options;
    this.client = new MesosSchedulerClient(options.client);
    this.#log = childLogger(this.client.options.logger, { component: 'task-scheduler' });
    this.#closedPromise = new Promise((resolve) => {
      this.#closedResolve = resolve;
    });
    this.client.on('subscribed', (info) => this.#onSubscribed(info));
    this.client.on('offers', (offers) => this.#onOffers(offers));
    this.client.on('rescind', (offerId) => this.#onRescind(offerId));
    this.client.on('update', (status) => this.#onUpdate(status));
    this.client.on('message', (message) => this.#onMessage(message));
    this.client.on('failure', (failure) => this.#onFailure(failure));
    this.client.on('disconnected', () => this.#onDisconnected());
    this.client.on('error', (message) => {
      this.#abort(new SchedulerAbortedError(`the master ended the subscription: ${message}`));
    });
  }

  /** Validates options, subscribes, and resolves once SUBSCRIBED arrived. */
  static async connect(options: TaskSchedulerOptions): Promise<TaskScheduler> {
    const scheduler = new TaskScheduler(resolveTaskSchedulerOptions(options));
    await scheduler.#start();
    return scheduler;
  }

  async #start(): Promise<void> {
    void this.#watchStatus();
    await this.client.subscribe();
    if (this.options.reconcileIntervalMs > 0) {
      this.#reconcileTimer = setInterval(() => {
        this.client.reconcile().catch((err: unknown) => {
          this.#log.debug('periodic reconcile failed', { error: errorOf(err) });
        });
      }, this.options.reconcileIntervalMs);
      this.#reconcileTimer.unref();
    }
  }

  async #watchStatus(): Promise<void> {
    for await (const status of this.client.status()) {
      for (const fn of this.#listeners.status) fn(status);
      if (status.type === 'closed' && !this.#closed && this.#abortError === undefined && !this.#stopping) {
        this.#abort(status.error ?? new SchedulerAbortedError('the scheduler client closed'));
      }
    }
  }

  /** The framework id Mesos assigned (the same after a failover). */
  get frameworkId(): string | undefined {
    return this.client.frameworkId;
  }

  /** A snapshot of the counters. */
  counters(): TaskSchedulerCounters {
    return { ...this.#counters, updates: { ...this.#counters.updates } };
  }

  /** Offers held unused right now (work submitted now launches from them at once). */
  get heldOffers(): number {
    return this.#offers.size;
  }

  /** Tasks submitted and not settled yet. */
  get pending(): number {
    return this.#unsettled.size;
  }

  /** Connection states; see {@link MesosSchedulerClient.status}. */
  status(): AsyncIterable<ConnectionStatus> {
    return this.client.status();
  }

  /** Resolves when the scheduler ended: `undefined` after `stop()`, the error after an abort. */
  closed(): Promise<Error | undefined> {
    return this.#closedPromise;
  }

  on<E extends keyof TaskSchedulerEvents>(event: E, listener: TaskSchedulerEvents[E]): () => void {
    const set = this.#listeners[event] as Set<TaskSchedulerEvents[E]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  // ---------------------------------------------------------------- submitting

  /**
   * Queues one task. Throws `InvalidOptionsError` for bad options or a task no executor runs,
   * `SchedulerAbortedError` once the scheduler is stopping.
   */
  submit<I, O>(def: TaskDefinition<I, O>, input: I, options: SubmitOptions = {}): TaskHandle<O> {
    if (this.#stopping || this.#closed) {
      throw new SchedulerAbortedError(
        this.#closedError
          ? `the scheduler aborted: ${this.#closedError.message}`
          : 'the scheduler is stopping',
        this.#closedError ? { cause: this.#closedError } : undefined,
      );
    }
    const executor = this.options.executorByTask.get(def.name) ?? this.options.defaultExecutor;
    if (executor === undefined) {
      throw new InvalidOptionsError(`no executor runs task ${def.name}: list it in a nodeExecutor's tasks`);
    }
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0))) {
      throw new InvalidOptionsError(`timeoutMs must be a positive number, got ${String(timeoutMs)}`);
    }
    const run = {
      id: `${this.#prefix}-${++this.#seq}`,
      def: def as TaskDefinition<unknown, unknown>,
      input,
      resources: taskScalars(def as TaskDefinition<unknown, unknown>, options.resources),
      executor,
      constraints: options.constraints,
      labels:
        options.labels === undefined
          ? undefined
          : { labels: Object.entries(options.labels).map(([key, value]) => ({ key, value })) },
      retry: resolveRetry('retry', options.retry, this.options.retry),
      attempts: 0,
      launchSeq: 0,
      current: undefined,
      state: 'queued',
      pendingReason: undefined,
      events: undefined,
      timer: undefined,
      detachSignal: undefined,
    } as unknown as Run;
    run.promise = new Promise((resolve, reject) => {
      run.resolve = resolve;
      run.reject = reject;
    });
    // A result nobody awaits must not become an unhandled rejection.
    run.promise.catch(() => {});
    this.#unsettled.add(run);
    this.#counters.submitted++;
    const signal = options.signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        this.#cancel(run, 'the signal was already aborted', signal.reason);
        return this.#handle<O>(run);
      }
      // One listener per signal, however many tasks share it (map() passes one to all).
      let runs = this.#signalRuns.get(signal);
      if (runs === undefined) {
        const set = new Set<Run>();
        runs = set;
        this.#signalRuns.set(signal, set);
        signal.addEventListener(
          'abort',
          () => {
            this.#signalRuns.delete(signal);
            for (const r of [...set]) this.#cancel(r, 'the signal was aborted', signal.reason);
          },
          { once: true },
        );
      }
      runs.add(run);
      const set = runs;
      run.detachSignal = () => set.delete(run);
    }
    if (timeoutMs !== undefined) {
      run.timer = setTimeout(() => this.#timeout(run, timeoutMs), timeoutMs);
    }
    this.#enqueue(run, false);
    return this.#handle<O>(run);
  }

  /** `submit(def, input, options).result()`. */
  run<I, O>(def: TaskDefinition<I, O>, input: I, options?: SubmitOptions): Promise<O> {
    return this.submit(def, input, options).result();
  }

  /**
   * Runs `def` over every input, at most `concurrency` at a time, pulling inputs only as tasks
   * finish (a million inputs never mean a million pending tasks). Yields results as they finish,
   * or in input order with `ordered`. The first failure is thrown from the iteration; the tasks
   * still in flight are then cancelled, as they are when the consumer stops early.
   */
  async *map<I, O>(
    def: TaskDefinition<I, O>,
    inputs: Iterable<I> | AsyncIterable<I>,
    options: MapOptions = {},
  ): AsyncGenerator<MapResult<I, O>, void, undefined> {
    const { concurrency = 256, ordered = false, ...submitOptions } = options;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      throw new InvalidOptionsError(
        `map: concurrency must be a positive integer, got ${String(concurrency)}`,
      );
    }
    const iterator =
      Symbol.asyncIterator in inputs
        ? (inputs as AsyncIterable<I>)[Symbol.asyncIterator]()
        : (inputs as Iterable<I>)[Symbol.iterator]();
    type Slot = { index: number; input: I; handle: TaskHandle<O>; done: Promise<unknown> };
    const inFlight = new Map<number, Slot>();
    const finished: number[] = [];
    let wake: (() => void) | undefined;
    let exhausted = false;
    let next = 0;
    let yieldIndex = 0;
    const ready = new Map<number, O>();
    const failures: Error[] = [];
    try {
      for (;;) {
        while (!exhausted && inFlight.size < concurrency && failures.length === 0) {
          const item = await iterator.next();
          if (item.done) {
            exhausted = true;
            break;
          }
          const index = next++;
          const handle = this.submit(def, item.value, submitOptions);
          const slot: Slot = {
            index,
            input: item.value,
            handle,
            done: handle.result().then(
              (output) => {
                ready.set(index, output);
              },
              (err: unknown) => {
                failures.push(errorOf(err));
              },
            ),
          };
          slot.done.then(() => {
            finished.push(index);
            wake?.();
          });
          inFlight.set(index, slot);
        }
        if (failures.length > 0) throw failures[0];
        if (finished.length === 0) {
          if (inFlight.size === 0 && exhausted) return;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        if (failures.length > 0) throw failures[0];
        if (ordered) {
          for (const index of finished.splice(0)) {
            if (!ready.has(index)) continue;
          }
          while (ready.has(yieldIndex)) {
            const slot = inFlight.get(yieldIndex)!;
            const output = ready.get(yieldIndex) as O;
            ready.delete(yieldIndex);
            inFlight.delete(yieldIndex);
            yieldIndex++;
            yield { index: slot.index, input: slot.input, output };
          }
        } else {
          for (const index of finished.splice(0)) {
            const slot = inFlight.get(index)!;
            const output = ready.get(index) as O;
            ready.delete(index);
            inFlight.delete(index);
            yield { index, input: slot.input, output };
          }
        }
      }
    } finally {
      for (const slot of inFlight.values()) slot.handle.cancel('map() ended early');
      if (!exhausted) await iterator.return?.();
    }
  }

  #handle<O>(run: Run): TaskHandle<O> {
    return {
      taskId: run.id,
      result: () => run.promise as Promise<O>,
      events: () => {
        if (run.events === undefined) {
          run.events = new RunEventQueue(this.options.maxBufferedMessages);
          run.events.push(this.#currentEvent(run));
          if (run.state === 'settled') run.events.end();
        }
        return run.events;
      },
      cancel: (reason = 'cancelled') => this.#cancel(run, reason),
      send: (data) => this.#sendToTask(run, data),
    };
  }

  /** The event describing where `run` is now (the first event of `events()`). */
  #currentEvent(run: Run): TaskRunEvent {
    const a = run.current;
    if (run.state === 'settled') {
      return run.settledWith!.ok
        ? { type: 'succeeded', attempts: run.attempts }
        : { type: 'failed', attempts: run.attempts, error: run.settledWith!.error };
    }
    if (a?.running) return { type: 'running', attempt: a.number, mesosTaskId: a.mesosTaskId };
    if (a !== undefined) {
      return {
        type: 'launched',
        attempt: a.number,
        mesosTaskId: a.mesosTaskId,
        agentId: a.agentId,
        executorId: a.executorId,
      };
    }
    return {
      type: 'queued',
      attempt: run.attempts + 1,
      ...(run.pendingReason !== undefined && { reason: run.pendingReason }),
    };
  }

  /** Whether anyone listens to `run`'s events (so hot paths skip building them otherwise). */
  #observed(run: Run): boolean {
    return run.events !== undefined || this.#listeners.task.size > 0;
  }

  #emit(run: Run, event: TaskRunEvent): void {
    run.events?.push(event);
    if (this.#listeners.task.size > 0) {
      const withTask = { ...event, taskId: run.id, task: run.def.name };
      for (const fn of this.#listeners.task) fn(withTask);
    }
  }

  async #sendToTask(run: Run, data: unknown): Promise<void> {
    const a = run.current;
    if (a === undefined || run.state === 'settled') return;
    await this.client.message(
      a.agentId,
      a.executorId,
      encodeMessageEnvelope({ kind: 'message', taskId: a.mesosTaskId, data }),
    );
  }

  // ---------------------------------------------------------------- the queue

  #enqueue(run: Run, front: boolean): void {
    run.state = 'queued';
    run.current = undefined;
    if (front && this.#queueHead > 0) this.#queue[--this.#queueHead] = run;
    else if (front) this.#queue.unshift(run);
    else this.#queue.push(run);
    this.#queued++;
    this.#workArrived();
  }

  /** Up to `limit` queued runs, in order, without taking them. */
  #window(limit: number): Run[] {
    const out: Run[] = [];
    for (let i = this.#queueHead; i < this.#queue.length && out.length < limit; i++) {
      const run = this.#queue[i];
      if (run !== undefined && run.state === 'queued') out.push(run);
    }
    return out;
  }

  /** Drops taken runs and the cancelled ones at the head; compacts now and then. */
  #compact(): void {
    while (this.#queueHead < this.#queue.length) {
      const run = this.#queue[this.#queueHead];
      if (run !== undefined && run.state === 'queued') break;
      this.#queue[this.#queueHead++] = undefined;
    }
    if (this.#queueHead === this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
    } else if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
  }

  #take(taken: ReadonlySet<Run>): void {
    for (let i = this.#queueHead; i < this.#queue.length && taken.size > 0; i++) {
      const run = this.#queue[i];
      if (run !== undefined && taken.has(run)) this.#queue[i] = undefined;
    }
    this.#queued -= taken.size;
    this.#compact();
  }

  #workArrived(): void {
    this.#schedulePass();
  }

  #revive(): void {
    if (this.#reviveTimer !== undefined || !this.client.subscribed) return;
    const wait = this.#lastReviveAt + this.options.reviveIntervalMs - Date.now();
    const fire = (): void => {
      this.#reviveTimer = undefined;
      if (this.#queued === 0 || !this.client.subscribed) return;
      this.#lastReviveAt = Date.now();
      this.#needRevive = false;
      this.#suppressed = false;
      this.#counters.revives++;
      this.#log.debug('revive');
      this.client.revive().catch((err: unknown) => {
        this.#needRevive = true;
        this.#log.warn('REVIVE failed', { error: errorOf(err) });
      });
    };
    if (wait <= 0) fire();
    else this.#reviveTimer = setTimeout(fire, wait);
  }

  // ---------------------------------------------------------------- offers

  #onOffers(offers: Offer[]): void {
    const now = Date.now();
    this.#counters.offersReceived += offers.length;
    for (const offer of offers) {
      this.#offers.set(offer.id.value, { offer, expires: now + this.options.offerHoldMs });
    }
    this.#schedulePass();
  }

  #onRescind(offerId: string): void {
    if (this.#offers.delete(offerId)) this.#counters.offersRescinded++;
  }

  #schedulePass(): void {
    if (this.#passScheduled) return;
    this.#passScheduled = true;
    setImmediate(() => {
      this.#passScheduled = false;
      this.#pass();
    });
  }

  /** One packing round over the held offers and the queue. */
  #pass(): void {
    if (!this.client.subscribed || this.#closed) return;
    const offersIn = this.#offers.size;
    let launched = 0;
    if (this.#queued > 0 && this.#offers.size > 0) launched = this.#launchFromOffers();
    // Work the held offers could not take: ask for offers again if we said we wanted none.
    if (this.#queued > 0 && this.#needRevive) this.#revive();
    const now = Date.now();
    const declined = this.#declineExpired(now);
    // Idle for offerHoldMs (no task queued or running): ask Mesos for no more offers. Not at
    // once: a burst of work that follows soon launches from the offers held meanwhile.
    if (this.#queued > 0 || this.#unsettled.size > 0) this.#idleSince = undefined;
    else {
      this.#idleSince ??= now;
      if (!this.#suppressed && now - this.#idleSince >= this.options.offerHoldMs) this.#suppress();
    }
    if (offersIn > 0) {
      for (const fn of this.#listeners.offers) {
        fn({ offers: offersIn, launched, declined, queued: this.#queued });
      }
    }
    this.#armOfferTimer();
  }

  #suppress(): void {
    this.#suppressed = true;
    this.#needRevive = true;
    this.#counters.suppresses++;
    this.#log.debug('suppress');
    this.client.suppress().catch((err: unknown) => {
      this.#log.warn('SUPPRESS failed', { error: errorOf(err) });
    });
  }

  /** Packs queued runs into the held offers; sends one ACCEPT per agent. Returns launches. */
  #launchFromOffers(): number {
    // One ACCEPT combines the offers of one agent allocated to one role (Mesos refuses offers
    // of different roles in one ACCEPT): a multi-role framework packs each role's apart.
    const byAgentRole = new Map<string, Offer[]>();
    for (const { offer } of this.#offers.values()) {
      const key = `${offer.agent_id.value}\n${offer.allocation_info?.role ?? ''}`;
      const list = byAgentRole.get(key);
      if (list === undefined) byAgentRole.set(key, [offer]);
      else list.push(offer);
    }
    const agents: (AgentCapacity & { offers: Offer[] })[] = [];
    for (const offers of byAgentRole.values()) {
      const first = offers[0]!;
      const agentId = first.agent_id.value;
      const running = this.#executors.get(agentId);
      agents.push({
        agentId,
        hostname: first.hostname,
        attributes: first.attributes ?? [],
        available: offeredScalars(offers),
        // No room for an executor we believe running there. The master may already know it
        // died and charge a new one: that launch comes back TASK_ERROR and is requeued.
        executors: running === undefined ? NO_EXECUTORS : new Set(running.keys()),
        offers,
      });
    }
    const window = this.#window(this.options.packingWindow);
    const packable: PackableTask[] = window.map((run) => ({
      resources: run.resources,
      executor: run.executor,
      constraints: run.constraints,
    }));
    const packing = this.options.packing(agents, packable);
    // Check every placement again: a strategy must not overcommit an agent.
    const perAgent = new Map<number, Run[]>();
    const left = agents.map((a) => ({ ...a.available }));
    const started = agents.map((a) => new Set(a.executors));
    const taken = new Set<Run>();
    for (const { task, agent } of packing.placements) {
      const run = window[task];
      const capacity = agents[agent];
      if (run === undefined || capacity === undefined || taken.has(run)) continue;
      const need = started[agent]!.has(run.executor.name)
        ? run.resources
        : addScalars(run.resources, run.executor.resources);
      const have = left[agent]!;
      if (shortOf(have, need) !== undefined) {
        this.#log.warn('packing strategy overcommitted an agent; placement dropped', {
          agentId: capacity.agentId,
        });
        continue;
      }
      have.cpus -= need.cpus;
      have.mem -= need.mem;
      have.disk -= need.disk;
      have.gpus -= need.gpus;
      started[agent]!.add(run.executor.name);
      taken.add(run);
      const list = perAgent.get(agent);
      if (list === undefined) perAgent.set(agent, [run]);
      else list.push(run);
    }
    for (const [index, reason] of packing.pending) {
      const run = window[index];
      if (run === undefined || taken.has(run)) continue;
      const text = describePending(reason);
      if (text !== run.pendingReason) {
        run.pendingReason = text;
        this.#log.debug('task pending', { taskId: run.id, reason: text });
        this.#emit(run, { type: 'queued', attempt: run.attempts + 1, reason: text });
      }
    }
    if (taken.size > 0) this.#take(taken);
    for (const [index, runs] of perAgent) {
      const agent = agents[index]!;
      for (const offer of agent.offers) this.#offers.delete(offer.id.value);
      this.#accept(agent.agentId, agent.offers, runs);
    }
    return taken.size;
  }

  #accept(agentId: string, offers: Offer[], runs: Run[]): void {
    const pool = new ResourcePool(offers);
    let slots = this.#executors.get(agentId);
    if (slots === undefined) {
      slots = new Map();
      this.#executors.set(agentId, slots);
    }
    const tasks: TaskInfo[] = [];
    const attempts: Attempt[] = [];
    let bytes = 0;
    for (const [index, run] of runs.entries()) {
      const data = encodeLaunchEnvelope({
        task: run.def.name,
        taskVersion: run.def.version,
        attempt: run.attempts + 1,
        input: run.input,
      });
      // One ACCEPT stays within maxAcceptBytes of task data (a master limits request bodies:
      // mesoskit-local to 64 MiB): the runs past it wait for the next offer round.
      if (tasks.length > 0 && bytes + data.byteLength > this.options.maxAcceptBytes) {
        for (let i = runs.length - 1; i >= index; i--) this.#enqueue(runs[i]!, true);
        break;
      }
      bytes += data.byteLength;
      let slot = slots.get(run.executor.name);
      const reusedExecutor = slot !== undefined;
      if (slot === undefined) {
        const key = `${agentId}/${run.executor.name}`;
        const generation = this.#generations.get(key) ?? 0;
        this.#generations.set(key, generation + 1);
        const executorId = generation === 0 ? run.executor.name : `${run.executor.name}.${generation}`;
        const info = run.executor.executorInfo(executorId);
        info.resources = pool.take(run.executor.resources);
        if (this.frameworkId !== undefined) info.framework_id = { value: this.frameworkId };
        slot = { executor: run.executor, executorId, info, active: 0, idleTimer: undefined };
        slots.set(run.executor.name, slot);
        this.#everLaunched.add(`${agentId}\n${executorId}`);
        this.#counters.executorsLaunched++;
      }
      slot.active++;
      clearTimeout(slot.idleTimer);
      slot.idleTimer = undefined;
      const number = ++run.attempts;
      // Mesos task ids are never reused, even for an attempt whose ACCEPT failed (it may have
      // reached the master anyway): `<taskId>.<n>` counts every launch.
      const mesosTaskId = `${run.id}.${++run.launchSeq}`;
      const attempt: Attempt = {
        run,
        number,
        mesosTaskId,
        agentId,
        executorId: slot.executorId,
        reusedExecutor,
        running: false,
      };
      run.current = attempt;
      run.state = 'launched';
      run.pendingReason = undefined;
      this.#attempts.set(mesosTaskId, attempt);
      attempts.push(attempt);
      tasks.push({
        name: run.def.name,
        task_id: { value: mesosTaskId },
        agent_id: { value: agentId },
        resources: pool.take(run.resources),
        executor: slot.info,
        data,
        ...(run.labels !== undefined && { labels: run.labels }),
      });
      if (this.#observed(run))
        this.#emit(run, {
          type: 'launched',
          attempt: number,
          mesosTaskId,
          agentId,
          executorId: slot.executorId,
        });
    }
    this.#counters.acceptCalls++;
    this.client
      .accept(
        offers.map((o) => o.id),
        [{ type: 'LAUNCH', launch: { task_infos: tasks } }],
        { refuse_seconds: 0 },
      )
      .then(
        () => {
          this.#counters.launches += tasks.length;
        },
        (err: unknown) => {
          // Not accepted: nothing was launched. Put the runs back in front of the queue.
          this.#log.warn('ACCEPT failed; requeueing its tasks', {
            agentId,
            tasks: tasks.length,
            error: errorOf(err),
          });
          this.#counters.acceptsFailed++;
          for (const attempt of attempts) {
            if (this.#attempts.get(attempt.mesosTaskId) !== attempt) continue;
            this.#attempts.delete(attempt.mesosTaskId);
            this.#releaseExecutor(attempt);
            const run = attempt.run;
            if (run.current !== attempt || run.state !== 'launched') continue;
            run.attempts--; // not an attempt: it never ran (if it did after all, it is an orphan and killed)
            if (attempts.length === 1 && err instanceof MesosHttpError && err.status === 413) {
              // Alone in its ACCEPT and still too large for the master: it never will fit.
              run.current = undefined;
              const error = new TaskFailedError(
                `task ${run.id} (${run.def.name}) cannot be launched: its launch is larger than the master accepts (${err.message})`,
                { taskId: run.id, attempts: run.attempts },
                { cause: err },
              );
              this.#settle(run, { ok: false, error });
              continue;
            }
            this.#enqueue(run, true);
          }
        },
      );
  }

  /** Declines held offers past their hold time. Returns how many. */
  #declineExpired(now: number): number {
    const expired: mesos.v1.OfferID[] = [];
    for (const [id, held] of this.#offers) {
      if (held.expires <= now || this.#stopping) {
        expired.push(held.offer.id);
        this.#offers.delete(id);
      }
    }
    if (expired.length === 0) return 0;
    this.#counters.offersDeclined += expired.length;
    const refuse = this.#queued > 0 ? 0 : this.options.idleRefuseSeconds;
    if (refuse > 0) this.#needRevive = true;
    this.client.decline(expired, { refuse_seconds: refuse }).catch((err: unknown) => {
      this.#log.debug('DECLINE failed', { error: errorOf(err) });
    });
    return expired.length;
  }

  /** Wakes the next pass when a held offer expires or the idle time to SUPPRESS is up. */
  #armOfferTimer(): void {
    clearTimeout(this.#offerTimer);
    this.#offerTimer = undefined;
    let next = Number.POSITIVE_INFINITY;
    for (const held of this.#offers.values()) next = Math.min(next, held.expires);
    if (this.#idleSince !== undefined && !this.#suppressed) {
      next = Math.min(next, this.#idleSince + this.options.offerHoldMs);
    }
    if (next === Number.POSITIVE_INFINITY) return;
    this.#offerTimer = setTimeout(() => this.#pass(), Math.max(0, next - Date.now()));
    this.#offerTimer.unref();
  }

  // ---------------------------------------------------------------- executors

  #releaseExecutor(attempt: Attempt): void {
    const slot = this.#executors.get(attempt.agentId)?.get(attempt.run.executor.name);
    if (slot === undefined || slot.executorId !== attempt.executorId) return;
    slot.active = Math.max(0, slot.active - 1);
    if (slot.active > 0 || this.options.executorIdleTimeoutMs === 0) return;
    clearTimeout(slot.idleTimer);
    slot.idleTimer = setTimeout(
      () => this.#shutdownIdle(attempt.agentId, slot),
      this.options.executorIdleTimeoutMs,
    );
    slot.idleTimer.unref();
  }

  #shutdownIdle(agentId: string, slot: ExecutorSlot): void {
    const slots = this.#executors.get(agentId);
    if (slots?.get(slot.executor.name) !== slot || slot.active > 0) return;
    slots.delete(slot.executor.name);
    this.#log.debug('shutting down idle executor', { agentId, executorId: slot.executorId });
    this.client.shutdown(slot.executorId, agentId).catch((err: unknown) => {
      this.#log.debug('SHUTDOWN failed', { agentId, executorId: slot.executorId, error: errorOf(err) });
    });
  }

  #onFailure(failure: mesos.v1.scheduler.Event.Failure): void {
    const agentId = failure.agent_id?.value;
    if (agentId === undefined) return;
    const slots = this.#executors.get(agentId);
    if (slots === undefined) return;
    if (failure.executor_id === undefined) {
      // The agent is gone: every executor on it with it.
      for (const slot of slots.values()) clearTimeout(slot.idleTimer);
      this.#counters.executorsLost += slots.size;
      this.#executors.delete(agentId);
      return;
    }
    this.#executorGone(agentId, failure.executor_id.value, failure.status);
  }

  /** Forgets an executor that ended: the next task for that agent starts a new one (a new id). */
  #executorGone(agentId: string, executorId: string, status?: number): void {
    const slots = this.#executors.get(agentId);
    if (slots === undefined) return;
    for (const [name, slot] of slots) {
      if (slot.executorId !== executorId) continue;
      clearTimeout(slot.idleTimer);
      slots.delete(name);
      this.#counters.executorsLost++;
      this.#log.info('executor terminated', { agentId, executorId, status });
    }
  }

  // ---------------------------------------------------------------- updates

  #onUpdate(status: TaskStatus): void {
    const state = status.state;
    this.#counters.updates[state] = (this.#counters.updates[state] ?? 0) + 1;
    const attempt = this.#attempts.get(status.task_id.value);
    if (attempt === undefined) {
      // A redelivery of an attempt we are done with, or a task we do not know (an earlier
      // scheduler of this framework, an attempt declared lost that came back): if it still
      // runs, it only holds resources, so kill it.
      const id = status.task_id.value;
      if (ALIVE_STATES.has(state) && !this.#ended.has(id) && !this.#endedBefore.has(id)) {
        this.#killOrphan(status);
      }
      return;
    }
    const run = attempt.run;
    const stale = run.current !== attempt;
    if (status.reason === RECONCILIATION && !LOST_STATES.has(state)) {
      // The master's view: a terminal state here carries no result; the agent's own update
      // (with the result) is still coming, as it is resent until acknowledged.
      return;
    }
    if (!isTerminalTaskState(state) && state !== 'TASK_UNREACHABLE' && state !== 'TASK_UNKNOWN') {
      if (stale || run.state === 'settled') {
        // An attempt we gave up on came back: it only holds resources now.
        if (state === 'TASK_RUNNING' || state === 'TASK_STARTING' || state === 'TASK_STAGING')
          this.#kill(attempt);
        return;
      }
      if (state === 'TASK_RUNNING' && !attempt.running) {
        attempt.running = true;
        if (this.#observed(run))
          this.#emit(run, { type: 'running', attempt: attempt.number, mesosTaskId: attempt.mesosTaskId });
      }
      return;
    }
    this.#attempts.delete(attempt.mesosTaskId);
    if (FINAL_STATES.has(state)) this.#noteEnded(attempt.mesosTaskId);
    this.#releaseExecutor(attempt);
    if (status.reason === 'REASON_EXECUTOR_TERMINATED')
      this.#executorGone(attempt.agentId, attempt.executorId);
    const executorNotCounted = attempt.reusedExecutor && this.#executorNotCounted(status);
    if (executorNotCounted) this.#executorGone(attempt.agentId, attempt.executorId);
    if (stale || run.state === 'settled') return;
    run.current = undefined;
    if (executorNotCounted) {
      // Packed without room for the executor, but the master no longer counts it (it ended
      // and we have not heard yet): not an attempt; the next one starts a new executor.
      this.#log.debug('executor gone before the launch; requeueing', {
        taskId: run.id,
        executorId: attempt.executorId,
      });
      this.#counters.launchesRequeued++;
      run.attempts--;
      this.#enqueue(run, true);
      return;
    }
    if (
      state === 'TASK_FINISHED' ||
      (state === 'TASK_FAILED' && status.data !== undefined && status.data.length > 0)
    ) {
      this.#onResult(run, attempt, status);
      return;
    }
    const init = { taskId: run.id, attempts: run.attempts };
    const text = status.message ? `: ${status.message}` : '';
    if (state === 'TASK_KILLED') {
      this.#failed(run, attempt, status, new TaskKilledError(`task ${run.id} was killed${text}`, init));
      return;
    }
    const lost = new TaskLostError(`task ${run.id} attempt ${attempt.number} ended ${state}${text}`, {
      ...init,
      state,
      reason: status.reason,
      source: status.source,
    });
    this.#failed(run, attempt, status, lost);
  }

  #noteEnded(mesosTaskId: string): void {
    if (this.#ended.size >= ENDED_KEPT) {
      this.#endedBefore = this.#ended;
      this.#ended = new Set();
    }
    this.#ended.add(mesosTaskId);
  }

  /** The master refused a launch because the task and a new executor did not fit the offers. */
  #executorNotCounted(status: TaskStatus): boolean {
    return (
      status.state === 'TASK_ERROR' &&
      status.source === 'SOURCE_MASTER' &&
      status.reason === 'REASON_TASK_INVALID' &&
      DOES_NOT_FIT.test(status.message ?? '')
    );
  }

  #onResult(run: Run, attempt: Attempt, status: TaskStatus): void {
    let envelope: ReturnType<typeof decodeResultEnvelope>;
    try {
      envelope = decodeResultEnvelope(status.data ?? new Uint8Array());
    } catch (err) {
      const error = new TaskFailedError(
        `task ${run.id} ended ${status.state} with an undecodable result: ${errorOf(err).message}`,
        { taskId: run.id, attempts: run.attempts },
        { cause: err },
      );
      this.#settle(run, { ok: false, error });
      return;
    }
    if (envelope.ok) {
      this.#settle(run, { ok: true, output: envelope.output });
      return;
    }
    this.#failed(run, attempt, status, new RemoteTaskError(envelope.failure));
  }

  /** An attempt ended without a result: retry by policy, or settle with the error. */
  #failed(run: Run, attempt: Attempt, status: TaskStatus, error: Error): void {
    if (this.options.abortOnFailure) {
      this.#log.error('task failed; aborting', {
        taskId: run.id,
        attempt: attempt.number,
        state: status.state,
        reason: status.reason,
        source: status.source,
        message: status.message,
      });
      const final = this.#finalError(run, error);
      this.#settle(run, { ok: false, error: final });
      this.#abort(
        new SchedulerAbortedError(
          `task ${run.id} ended ${status.state} (reason ${status.reason ?? 'none'}, source ${status.source ?? 'none'}): ${status.message ?? error.message}`,
          { cause: final },
        ),
      );
      return;
    }
    const failure: AttemptFailure = {
      attempt: attempt.number,
      state: status.state,
      reason: status.reason,
      error,
    };
    let retry = false;
    if (run.attempts < run.retry.maxAttempts && !this.#stopping) {
      try {
        retry = run.retry.retryOn(failure);
      } catch (err) {
        this.#log.warn('retryOn threw; not retrying', { taskId: run.id, error: errorOf(err) });
      }
    }
    if (!retry) {
      this.#settle(run, { ok: false, error: this.#finalError(run, error) });
      return;
    }
    const delayMs = backoffDelay(run.retry, run.attempts + 1, Math.random);
    this.#counters.retries++;
    this.#log.debug('retrying task', {
      taskId: run.id,
      attempt: attempt.number,
      delayMs,
      error: error.message,
    });
    this.#emit(run, { type: 'retrying', attempt: attempt.number, delayMs, error });
    run.state = 'delayed';
    const retryTimer = setTimeout(() => {
      if (run.state === 'delayed') this.#enqueue(run, true);
    }, delayMs);
    if (run.timer === undefined) run.timer = retryTimer;
  }

  #finalError(run: Run, error: Error): Error {
    if (error instanceof TaskKilledError) return error;
    const init = { taskId: run.id, attempts: run.attempts };
    return new TaskFailedError(
      `task ${run.id} (${run.def.name}) failed after ${run.attempts} attempt(s): ${error.message}`,
      init,
      {
        cause: error,
      },
    );
  }

  #onMessage(message: mesos.v1.scheduler.Event.Message): void {
    this.#counters.messagesReceived++;
    let envelope: ReturnType<typeof decodeMessageEnvelope>;
    try {
      envelope = decodeMessageEnvelope(message.data);
    } catch (err) {
      this.#counters.messagesUndecodable++;
      this.#log.debug('undecodable framework message dropped', { error: errorOf(err) });
      return;
    }
    const attempt = envelope.taskId === undefined ? undefined : this.#attempts.get(envelope.taskId);
    if (attempt === undefined || attempt.run.current !== attempt) return;
    const event: TaskRunEvent =
      envelope.kind === 'progress'
        ? { type: 'progress', attempt: attempt.number, value: envelope.data, dropped: 0 }
        : { type: 'message', attempt: attempt.number, data: envelope.data, dropped: 0 };
    this.#emit(attempt.run, event);
  }

  // ---------------------------------------------------------------- settling, kills

  #settle(run: Run, outcome: Settle): void {
    if (run.state === 'settled') return;
    const wasQueued = run.state === 'queued';
    run.state = 'settled';
    run.settledWith = outcome;
    clearTimeout(run.timer);
    run.detachSignal?.();
    this.#unsettled.delete(run);
    if (wasQueued) {
      this.#queued--;
      this.#compact();
    }
    if (outcome.ok) {
      this.#counters.succeeded++;
      if (this.#observed(run)) this.#emit(run, { type: 'succeeded', attempts: run.attempts });
      run.resolve(outcome.output);
    } else {
      if (outcome.error instanceof TaskCancelledError) this.#counters.cancelled++;
      else if (outcome.error instanceof TaskTimeoutError) this.#counters.timedOut++;
      else this.#counters.failed++;
      this.#emit(run, { type: 'failed', attempts: run.attempts, error: outcome.error });
      run.reject(outcome.error);
    }
    run.events?.end();
    if (this.#unsettled.size === 0) {
      for (const resolve of this.#drainWaiters.splice(0)) resolve();
      if (this.#queued === 0) this.#schedulePass();
    }
  }

  #cancel(run: Run, reason: string, cause?: unknown): void {
    if (run.state === 'settled') return;
    const a = run.current;
    this.#settle(run, {
      ok: false,
      error: new TaskCancelledError(
        `task ${run.id} cancelled: ${reason}`,
        { taskId: run.id, attempts: run.attempts },
        cause === undefined ? undefined : { cause },
      ),
    });
    if (a !== undefined) this.#kill(a);
  }

  #timeout(run: Run, timeoutMs: number): void {
    if (run.state === 'settled') return;
    const a = run.current;
    this.#settle(run, {
      ok: false,
      error: new TaskTimeoutError({ taskId: run.id, attempts: run.attempts, timeoutMs }),
    });
    if (a !== undefined) this.#kill(a);
  }

  #killOrphan(status: TaskStatus): void {
    const taskId = status.task_id.value;
    if (this.#orphansKilled.has(taskId) || !this.client.subscribed) return;
    this.#orphansKilled.add(taskId);
    if (this.#orphansKilled.size > 10_000) this.#orphansKilled.clear();
    this.#log.info('killing a task this scheduler does not track', { taskId, state: status.state });
    this.client.kill(taskId, status.agent_id?.value).catch((err: unknown) => {
      this.#log.warn('KILL failed', { taskId, error: errorOf(err) });
    });
  }

  /** Sends KILL for an attempt (its terminal update still arrives and is acknowledged). */
  #kill(attempt: Attempt): void {
    if (!this.client.subscribed) return; // reconciliation after the resubscribe will find it
    this.client.kill(attempt.mesosTaskId, attempt.agentId).catch((err: unknown) => {
      this.#log.warn('KILL failed', { taskId: attempt.mesosTaskId, error: errorOf(err) });
    });
  }

  // ---------------------------------------------------------------- connection

  #onSubscribed(info: SubscribedInfo): void {
    // Offers and filters died with the old subscription; Mesos starts us unsuppressed.
    this.#offers.clear();
    this.#suppressed = false;
    this.#needRevive = false;
    if (info.resubscribed) this.#counters.reconnects++;
    if (this.#attempts.size > 0) {
      const tasks = [...this.#attempts.values()].map((a) => ({ taskId: a.mesosTaskId, agentId: a.agentId }));
      this.#log.info('reconciling tasks', { tasks: tasks.length });
      this.client.reconcile(tasks).catch((err: unknown) => {
        this.#log.warn('RECONCILE failed', { error: errorOf(err) });
      });
    }
    this.#schedulePass();
  }

  #onDisconnected(): void {
    this.#offers.clear();
    clearTimeout(this.#offerTimer);
  }

  /** Ends everything with `error`: unsettled tasks reject with SchedulerAbortedError. */
  #abort(error: Error): void {
    if (this.#closed || this.#abortError !== undefined) return;
    this.#abortError = error;
    this.#log.error('scheduler aborted', { error });
    for (const run of [...this.#unsettled]) {
      this.#settle(run, {
        ok: false,
        error:
          error instanceof SchedulerAbortedError
            ? error
            : new SchedulerAbortedError(error.message, { cause: error }),
      });
    }
    this.#stopping = true;
    void this.client
      .teardown()
      .catch(() => {})
      .finally(() => this.#finish(error));
  }

  #finish(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closedError = error;
    clearTimeout(this.#offerTimer);
    clearTimeout(this.#reviveTimer);
    clearInterval(this.#reconcileTimer);
    for (const slots of this.#executors.values())
      for (const slot of slots.values()) clearTimeout(slot.idleTimer);
    void this.client.close().finally(() => this.#closedResolve(error));
  }

  /**
   * Stops the scheduler.
   * - default (`drain`): no new submits; waits until every submitted task settled, shuts down
   *   this scheduler's executors, declines held offers and disconnects. The framework stays
   *   registered for its `failover_timeout`.
   * - `teardown: true`: cancels every unsettled task and sends TEARDOWN (Mesos kills every
   *   task and executor of the framework and forgets it).
   */
  async stop(options: { teardown?: boolean } = {}): Promise<void> {
    if (this.#closed) {
      await this.#closedPromise;
      return;
    }
    this.#stopping = true;
    if (options.teardown === true) {
      for (const run of [...this.#unsettled]) this.#cancel(run, 'the scheduler was torn down');
      try {
        await this.client.teardown();
      } catch (err) {
        this.#log.warn('TEARDOWN failed', { error: errorOf(err) });
      }
    } else {
      if (this.#unsettled.size > 0) {
        await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
      }
      this.#declineExpired(Date.now());
      const shutdowns: Promise<void>[] = [];
      for (const slots of this.#executors.values())
        for (const slot of slots.values()) clearTimeout(slot.idleTimer);
      for (const key of this.#everLaunched) {
        const [agentId, executorId] = key.split('\n') as [string, string];
        shutdowns.push(this.client.shutdown(executorId, agentId).catch(() => {}));
      }
      this.#executors.clear();
      await Promise.all(shutdowns);
    }
    this.#finish(undefined);
    await this.#closedPromise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
