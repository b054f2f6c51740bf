/**
 * `MesosSchedulerClient`: the low-level Mesos v1 scheduler HTTP API client. One SUBSCRIBE
 * stream on a dedicated connection, every other call on one keep-alive connection, events as
 * callbacks and as an async iterable, heartbeat watchdog, redirects and reconnects.
 *
 * @module
 */
import { setMaxListeners } from 'node:events';
import type { IncomingMessage } from 'node:http';
import {
  childLogger,
  type FrameworkInfo,
  type Logger,
  MEDIA_TYPES,
  type mesos,
  type Offer,
  RecordIODecoder,
  type SchedulerCall,
  type SchedulerEvent,
  schedulerCall,
  schedulerEvent,
  type TaskStatus,
} from '@mesoskit/protocol';
import { AsyncQueue } from './async-queue.js';
import { CallPipeline, type CallResponse } from './call-pipeline.js';
import { MesosHttpError, NotSubscribedError, SubscriptionLostError } from './errors.js';
import type { FrameworkIdStore } from './framework-id-store.js';
import { post, readText } from './http.js';
import {
  type MesosSchedulerClientOptions,
  type ResolvedSchedulerClientOptions,
  resolveSchedulerClientOptions,
} from './options.js';

/** What `subscribed` listeners receive. */
export interface SubscribedInfo {
  frameworkId: string;
  heartbeatIntervalSeconds: number | undefined;
  masterInfo: mesos.v1.MasterInfo | undefined;
  /** The URL of the master that accepted the subscription. */
  master: string;
  /** True for every subscription after the first one of this client. */
  resubscribed: boolean;
  /**
   * True when the SUBSCRIBE carried a framework id: a reconnect, or a failover to an existing
   * framework (id from `frameworkIdStore` or `framework.id`). The master kept its tasks.
   */
  resumed: boolean;
}

/** What `disconnected` listeners receive. */
export interface DisconnectedInfo {
  reason: string;
  error?: Error;
}

/** Typed callbacks, in the shape framework authors know. */
export interface SchedulerClientEvents {
  subscribed: (info: SubscribedInfo) => void | Promise<void>;
  offers: (offers: Offer[]) => void | Promise<void>;
  rescind: (offerId: string) => void | Promise<void>;
  /** With `ack: 'auto'` the update is acknowledged once every `update` callback resolved. */
  update: (status: TaskStatus) => void | Promise<void>;
  message: (message: mesos.v1.scheduler.Event.Message) => void | Promise<void>;
  failure: (failure: mesos.v1.scheduler.Event.Failure) => void | Promise<void>;
  /** An `ERROR` event from the master; the client closes after it (see `closed()`). */
  error: (message: string) => void | Promise<void>;
  disconnected: (info: DisconnectedInfo) => void | Promise<void>;
}

/** Connection states, as `status()` yields them. */
export type ConnectionStatus =
  | { type: 'subscribed'; frameworkId: string; master: string }
  | { type: 'disconnected'; reason: string; error?: Error }
  | { type: 'reconnecting'; attempt: number; delayMs: number }
  | { type: 'heartbeat-missed'; silentMs: number }
  | { type: 'closed'; error?: Error };

type EventName = keyof SchedulerClientEvents;

interface Stream {
  generation: number;
  response: IncomingMessage | undefined;
  destroy(): void;
}

/** The master's ERROR message for a framework id that was torn down or timed out. */
const FRAMEWORK_REMOVED = 'Framework has been removed';

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';

function offerIds(ids: readonly (string | mesos.v1.OfferID)[]): mesos.v1.OfferID[] {
  return ids.map((id) => (typeof id === 'string' ? { value: id } : id));
}

function errorOf(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * The low-level Mesos scheduler client.
 *
 * **Calls while disconnected** (before the first SUBSCRIBED, between a drop and the next
 * SUBSCRIBED, after `close()`) reject at once with `NotSubscribedError`; nothing is queued,
 * because a call made with an old `Mesos-Stream-Id` would be refused anyway and offers die with
 * the subscription. Wait for the next `subscribed` and decide again.
 */
export class MesosSchedulerClient implements AsyncDisposable {
  readonly options: ResolvedSchedulerClientOptions;
  readonly #log: Logger;
  readonly #listeners = new Map<EventName, Set<(...args: never[]) => unknown>>();
  readonly #statusQueues = new Set<AsyncQueue<ConnectionStatus>>();
  #events: AsyncQueue<SchedulerEvent> | undefined;
  #frameworkId: string | undefined;
  #streamId: string | undefined;
  #leader: URL;
  #stream: Stream | undefined;
  #generation = 0;
  #subscribedCount = 0;
  #closed = false;
  #closedError: Error | undefined;
  #closedResolve!: (err: Error | undefined) => void;
  readonly #closedPromise: Promise<Error | undefined>;
  #watchdog: NodeJS.Timeout | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #reconnectAttempt = 0;
  /** The callback chain. It starts closed: see `#openGate`. */
  #dispatching: Promise<void>;
  /**
   * Opens the callback chain. Events that arrive with SUBSCRIBED (offers follow it within a
   * millisecond) wait until `connect()`'s caller had the chance to register callbacks.
   */
  #openGate!: () => void;
  #gateOpen = false;
  /** The call connection per master origin (normally just the leader's). */
  readonly #pipelines = new Map<string, CallPipeline>();
  /** The pipeline of the URL used last (the leader's, nearly always). */
  #lastPipeline: { url: URL; pipeline: CallPipeline } | undefined;
  #cachedCallHeaders: { streamId: string; headers: Record<string, string> } | undefined;
  #lastEventAt = 0;
  #heartbeatMs: number | undefined;
  #pendingSubscribe: { resolve: () => void; reject: (err: Error) => void } | undefined;
  /** Whether the SUBSCRIBE in flight carried a framework id. */
  #resuming = false;
  /** The id last saved to (or loaded from) the store. */
  #storedId: string | undefined;
  /** Store operations (save, clear), one at a time, in order. */
  #storeOps: Promise<void> = Promise.resolve();
  /** Dispatches scheduled and not yet settled (they count as buffered events). */
  #pendingDispatches = 0;
  /** Automatic ACKs sent and not yet answered (they count as buffered events too). */
  #pendingAcks = 0;
  /** The last store operation's error, if it failed. */
  #storeError: Error | undefined;
  /** True while the subscription socket is paused because too many events are buffered. */
  #paused = false;
  /** Set once the client must not reconnect any more (ERROR event, teardown). */
  #stopping = false;
  /** Aborted by close(): ends in-flight SUBSCRIBE attempts and calls. */
  readonly #abort = new AbortController();

  /** Validates options; does no I/O. Use {@link MesosSchedulerClient.connect}. */
  constructor(options: MesosSchedulerClientOptions) {
    this.options = resolveSchedulerClientOptions(options);
    this.#log = childLogger(this.options.logger, { framework: this.options.framework.name });
    this.#leader = this.options.masters[0]!;
    // Every call in flight listens on this signal: no limit, no MaxListenersExceededWarning.
    setMaxListeners(0, this.#abort.signal);
    if (this.options.framework.id?.value) this.#frameworkId = this.options.framework.id.value;
    this.#closedPromise = new Promise((resolve) => {
      this.#closedResolve = resolve;
    });
    this.#dispatching = new Promise((resolve) => {
      this.#openGate = () => {
        this.#gateOpen = true;
        resolve();
      };
    });
  }

  /** Subscribes and resolves once SUBSCRIBED arrived; rejects if every master refused or failed. */
  static async connect(options: MesosSchedulerClientOptions): Promise<MesosSchedulerClient> {
    const client = new MesosSchedulerClient(options);
    await client.subscribe();
    return client;
  }

  /**
   * For a client made with `new`: subscribes and resolves once SUBSCRIBED arrived (listeners
   * added before see every event from the first one). Rejects, and closes the client, if every
   * master refused or failed. Call it once.
   */
  async subscribe(): Promise<void> {
    try {
      await this.#loadFrameworkId();
      await this.#subscribe();
      // The first save must succeed: a framework id that was not stored cannot be failed over to.
      await this.#storeOps;
      const saveError = this.#storeError;
      if (saveError !== undefined) throw saveError;
    } catch (err) {
      this.#close(errorOf(err));
      await this.#storeOps;
      throw err;
    }
    // A tick runs after the microtasks drained, so after the caller's continuation: callbacks
    // registered right after `await connect()` see every event from SUBSCRIBED on. (Not a
    // timer: fake timers in tests leave it alone.)
    process.nextTick(() => this.#openGate());
  }

  async #loadFrameworkId(): Promise<void> {
    const store = this.options.frameworkIdStore;
    if (store === undefined) return;
    const stored = await store.load();
    this.#storedId = stored;
    if (this.#frameworkId !== undefined) {
      if (stored !== undefined && stored !== this.#frameworkId) {
        this.#log.info('framework.id given; ignoring the stored framework id', {
          frameworkId: this.#frameworkId,
          storedFrameworkId: stored,
        });
      }
      return;
    }
    if (stored !== undefined) {
      this.#frameworkId = stored;
      this.#log.info('failing over to the stored framework id', { frameworkId: stored });
    }
  }

  /** Runs a store operation after the earlier ones; failures are logged and remembered. */
  #storeOp(what: 'save' | 'clear', op: (store: FrameworkIdStore) => Promise<void>): void {
    const store = this.options.frameworkIdStore;
    if (store === undefined) return;
    this.#storeOps = this.#storeOps.then(async () => {
      try {
        await op(store);
        this.#storeError = undefined;
      } catch (err) {
        this.#storeError = errorOf(err);
        this.#log.error(
          what === 'save' ? 'could not save the framework id' : 'could not clear the framework id',
          { error: this.#storeError },
        );
      }
    });
  }

  #saveFrameworkId(id: string): void {
    if (this.options.frameworkIdStore === undefined || id === this.#storedId) return;
    this.#storedId = id;
    this.#storeOp('save', (store) => store.save(id));
  }

  #clearFrameworkId(): void {
    this.#storedId = undefined;
    this.#storeOp('clear', (store) => store.clear());
  }

  /**
   * Events received and not yet handled: waiting in the `events()` buffer, waiting for (or
   * running) their callbacks, or waiting for the answer to their automatic ACK. Reading from the
   * master pauses at `eventBuffer.highWaterMark`.
   */
  get bufferedEvents(): number {
    return (this.#events?.size ?? 0) + this.#pendingDispatches + this.#pendingAcks;
  }

  /** The framework id, once subscribed (kept across reconnects). */
  get frameworkId(): string | undefined {
    return this.#frameworkId;
  }

  /** The current `Mesos-Stream-Id`, or `undefined` while disconnected. */
  get streamId(): string | undefined {
    return this.#streamId;
  }

  /** True while a subscription is live. */
  get subscribed(): boolean {
    return this.#streamId !== undefined && !this.#closed;
  }

  /** Adds a callback; returns a function that removes it. Callback errors are logged, never thrown. */
  on<E extends EventName>(event: E, listener: SchedulerClientEvents[E]): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as (...args: never[]) => unknown);
    return () => set.delete(listener as (...args: never[]) => unknown);
  }

  /**
   * Every decoded event (HEARTBEAT included) from now on, in order, across reconnects; ends on
   * `close()`. Single consumer. Nothing is dropped: while the consumer lags, the client stops
   * reading the socket (see `eventBuffer`), so keep consuming or `break` (which ends it). With `ack: 'auto'`
   * updates are acknowledged once the `update` callbacks resolved, whether or not this iterator
   * has reached them: use `ack: 'manual'` to acknowledge after your own processing.
   */
  events(): AsyncIterable<SchedulerEvent> {
    if (this.#events !== undefined) throw new TypeError('events() has a single consumer');
    this.#events = new AsyncQueue(() => this.#flow());
    if (this.#closed) this.#events.end();
    return this.#events;
  }

  /** Connection states from now on; ends after `closed`. Each call gets its own iterable. */
  status(): AsyncIterable<ConnectionStatus> {
    const queue = new AsyncQueue<ConnectionStatus>();
    if (this.#closed) {
      queue.push({ type: 'closed', ...(this.#closedError && { error: this.#closedError }) });
      queue.end();
    } else {
      this.#statusQueues.add(queue);
    }
    return queue;
  }

  /** Resolves when the client closed: `undefined` after `close()`, the error after a fatal one. */
  closed(): Promise<Error | undefined> {
    return this.#closedPromise;
  }

  // ---------------------------------------------------------------- calls

  /** ACCEPT: use offers (all from one agent) for these operations. */
  accept(
    ids: readonly (string | mesos.v1.OfferID)[],
    operations: mesos.v1.Offer.Operation[],
    filters?: mesos.v1.Filters,
  ): Promise<void> {
    return this.#call({
      type: 'ACCEPT',
      accept: { offer_ids: offerIds(ids), operations, ...(filters && { filters }) },
    });
  }

  /** ACCEPT with LAUNCH of these tasks. */
  launch(
    ids: readonly (string | mesos.v1.OfferID)[],
    tasks: mesos.v1.TaskInfo[],
    filters?: mesos.v1.Filters,
  ) {
    return this.accept(ids, [{ type: 'LAUNCH', launch: { task_infos: tasks } }], filters);
  }

  decline(ids: readonly (string | mesos.v1.OfferID)[], filters?: mesos.v1.Filters): Promise<void> {
    return this.#call({
      type: 'DECLINE',
      decline: { offer_ids: offerIds(ids), ...(filters && { filters }) },
    });
  }

  revive(roles?: string[]): Promise<void> {
    return this.#call({ type: 'REVIVE', ...(roles && { revive: { roles } }) });
  }

  suppress(roles?: string[]): Promise<void> {
    return this.#call({ type: 'SUPPRESS', ...(roles && { suppress: { roles } }) });
  }

  kill(taskId: string, agentId?: string, killPolicy?: mesos.v1.KillPolicy): Promise<void> {
    return this.#call({
      type: 'KILL',
      kill: {
        task_id: { value: taskId },
        ...(agentId !== undefined && { agent_id: { value: agentId } }),
        ...(killPolicy && { kill_policy: killPolicy }),
      },
    });
  }

  shutdown(executorId: string, agentId: string): Promise<void> {
    return this.#call({
      type: 'SHUTDOWN',
      shutdown: { executor_id: { value: executorId }, agent_id: { value: agentId } },
    });
  }

  /** ACKNOWLEDGE an update; it must carry `uuid` and `agent_id` (master-generated ones do not). */
  acknowledge(status: Pick<TaskStatus, 'agent_id' | 'task_id' | 'uuid'>): Promise<void> {
    if (status.uuid === undefined || status.agent_id === undefined) {
      return Promise.reject(
        new TypeError(`cannot acknowledge an update of ${status.task_id.value} without uuid and agent_id`),
      );
    }
    return this.#call({
      type: 'ACKNOWLEDGE',
      acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid },
    });
  }

  /** RECONCILE: explicit for the given tasks, implicit (all tasks) with none. */
  reconcile(tasks: { taskId: string; agentId?: string }[] = []): Promise<void> {
    return this.#call({
      type: 'RECONCILE',
      reconcile: {
        tasks: tasks.map((t) => ({
          task_id: { value: t.taskId },
          ...(t.agentId !== undefined && { agent_id: { value: t.agentId } }),
        })),
      },
    });
  }

  /** MESSAGE to an executor: best effort, Mesos may drop it. */
  message(agentId: string, executorId: string, data: Uint8Array): Promise<void> {
    return this.#call({
      type: 'MESSAGE',
      message: { agent_id: { value: agentId }, executor_id: { value: executorId }, data },
    });
  }

  request(requests: mesos.v1.Request[]): Promise<void> {
    return this.#call({ type: 'REQUEST', request: { requests } });
  }

  /** TEARDOWN: Mesos kills every task and forgets the framework; the client then closes. */
  async teardown(): Promise<void> {
    this.#stopping = true;
    try {
      await this.#call({ type: 'TEARDOWN' });
    } catch (err) {
      this.#stopping = false;
      throw err;
    }
    this.#clearFrameworkId();
    await this.close();
  }

  /** UPDATE_FRAMEWORK (synchronous at the master: resolves on 200). `id` is filled in. */
  updateFramework(
    frameworkInfo: FrameworkInfo,
    options: { suppressedRoles?: string[]; offerConstraints?: mesos.v1.scheduler.OfferConstraints } = {},
  ): Promise<void> {
    const info = { ...frameworkInfo, id: { value: this.#frameworkId ?? '' } };
    return this.#call(
      {
        type: 'UPDATE_FRAMEWORK',
        update_framework: {
          framework_info: info,
          ...(options.suppressedRoles && { suppressed_roles: options.suppressedRoles }),
          ...(options.offerConstraints && { offer_constraints: options.offerConstraints }),
        },
      },
      200,
    );
  }

  /** Any other call (framework_id is filled in). Resolves on 202. */
  call(call: SchedulerCall): Promise<void> {
    return this.#call(call);
  }

  async #call(call: SchedulerCall, expected = 202): Promise<void> {
    const type = call.type ?? 'UNKNOWN';
    const streamId = this.#streamId;
    const frameworkId = this.#frameworkId;
    if (this.#closed) throw new NotSubscribedError(`cannot send ${type}: the client is closed`);
    if (streamId === undefined || frameworkId === undefined) {
      throw new NotSubscribedError(`cannot send ${type}: not subscribed (reconnecting)`);
    }
    const body = schedulerCall.encode(
      { ...call, framework_id: { value: frameworkId } },
      this.options.encoding,
    );
    const started = this.options.debug ? performance.now() : 0;
    if (this.options.debug) this.#log.trace('call sent', { type, bytes: body.byteLength });
    let response: CallResponse;
    try {
      response = await this.#post(body, streamId);
    } catch (err) {
      if (this.options.debug) this.#log.trace('call failed', { type, error: errorOf(err) });
      if (this.#closed)
        throw new NotSubscribedError(`${type} interrupted: the client closed`, { cause: err });
      throw err;
    }
    const { status } = response;
    if (this.options.debug) {
      this.#log.trace('call answered', {
        type,
        status,
        bytes: response.body.byteLength,
        ms: Math.round((performance.now() - started) * 1000) / 1000,
      });
    }
    if (status !== expected) throw new MesosHttpError(type, status, response.body.toString('utf8'));
  }

  /** The per-stream header of every call (one object per stream, not per call). */
  #callHeaders(streamId: string): Record<string, string> {
    if (this.#cachedCallHeaders?.streamId !== streamId) {
      this.#cachedCallHeaders = { streamId, headers: { 'Mesos-Stream-Id': streamId } };
    }
    return this.#cachedCallHeaders.headers;
  }

  #headers(): Record<string, string> {
    const media = MEDIA_TYPES[this.options.encoding];
    return {
      'Content-Type': media,
      Accept: media,
      ...(this.options.authorization !== undefined && { Authorization: this.options.authorization }),
    };
  }

  /** POSTs a call on the leader's pipeline, following 307s (scheme-less `Location` included). */
  async #post(body: Uint8Array, streamId: string): Promise<CallResponse> {
    let url = this.#leader;
    for (let hop = 0; ; hop++) {
      const res = await this.#pipeline(url).post(body, this.#callHeaders(streamId));
      if (res.status !== 307 || res.location === undefined || res.location === '') return res;
      if (hop >= this.options.maxRedirects) {
        throw new Error(
          `too many redirects (more than ${this.options.maxRedirects}), last to ${res.location}`,
        );
      }
      url = new URL(res.location, url);
    }
  }

  #pipeline(url: URL): CallPipeline {
    if (url === this.#lastPipeline?.url) return this.#lastPipeline.pipeline;
    const key = `${url.protocol}//${url.host}${url.pathname}`;
    let pipeline = this.#pipelines.get(key);
    if (pipeline === undefined) {
      pipeline = new CallPipeline(url, {
        headers: this.#headers(),
        timeoutMs: this.options.callTimeoutMs,
        ca: this.options.ca,
      });
      this.#pipelines.set(key, pipeline);
    }
    this.#lastPipeline = { url, pipeline };
    return pipeline;
  }

  // ---------------------------------------------------------------- subscription

  /** Tries the last leader, then every master in turn; resolves on SUBSCRIBED. */
  async #subscribe(): Promise<void> {
    const candidates = [this.#leader, ...this.options.masters.filter((m) => m.href !== this.#leader.href)];
    let lastError: Error | undefined;
    for (const url of candidates) {
      if (this.#closed) throw new NotSubscribedError('closed while subscribing');
      try {
        await this.#subscribeTo(url);
        return;
      } catch (err) {
        lastError = errorOf(err);
        if (err instanceof MesosHttpError && err.status !== 503) throw err;
        if (err instanceof SubscriptionLostError) throw err;
        this.#log.debug('subscribe failed, trying next master', {
          master: url.href,
          error: lastError.message,
        });
      }
    }
    throw lastError ?? new Error('no master to subscribe to');
  }

  async #subscribeTo(url: URL): Promise<void> {
    const frameworkId = this.#frameworkId;
    const framework: FrameworkInfo = {
      ...this.options.framework,
      ...(frameworkId !== undefined && { id: { value: frameworkId } }),
    };
    const body = schedulerCall.encode(
      {
        type: 'SUBSCRIBE',
        ...(frameworkId !== undefined && { framework_id: { value: frameworkId } }),
        subscribe: { framework_info: framework },
      },
      this.options.encoding,
    );
    this.#resuming = frameworkId !== undefined;
    if (this.options.debug) {
      this.#log.trace('call sent', {
        type: 'SUBSCRIBE',
        bytes: body.byteLength,
        master: `${url.host}${url.pathname}`,
      });
    }
    const { response, url: answered } = await post(url, {
      headers: this.#headers(),
      body,
      agent: false,
      ca: this.options.ca,
      timeoutMs: this.options.callTimeoutMs,
      maxRedirects: this.options.maxRedirects,
      signal: this.#abort.signal,
    });
    if (this.options.debug) {
      this.#log.trace('call answered', {
        type: 'SUBSCRIBE',
        status: response.statusCode,
        master: `${answered.host}${answered.pathname}`,
      });
    }
    if (response.statusCode !== 200) {
      const text = await readText(response);
      throw new MesosHttpError('SUBSCRIBE', response.statusCode ?? 0, text);
    }
    const streamIdHeader = response.headers['mesos-stream-id'];
    const streamId = Array.isArray(streamIdHeader) ? streamIdHeader[0] : streamIdHeader;
    if (streamId === undefined) {
      response.destroy();
      throw new MesosHttpError('SUBSCRIBE', 200, 'the response has no Mesos-Stream-Id header');
    }
    if (this.#closed) {
      response.destroy();
      throw new NotSubscribedError('closed while subscribing');
    }
    const generation = ++this.#generation;
    const stream: Stream = { generation, response, destroy: () => response.destroy() };
    this.#stream = stream;
    const subscribed = new Promise<void>((resolve, reject) => {
      this.#pendingSubscribe = { resolve, reject };
    });
    this.#leader = answered;
    this.#streamIdCandidate = streamId;
    this.#read(stream, response);
    const timer = setTimeout(
      () => this.#lost(generation, `no SUBSCRIBED event within ${this.options.callTimeoutMs} ms`),
      this.options.callTimeoutMs,
    );
    try {
      await subscribed;
    } finally {
      clearTimeout(timer);
    }
  }

  #streamIdCandidate: string | undefined;

  #read(stream: Stream, response: IncomingMessage): void {
    const decoder = new RecordIODecoder();
    const lost = (reason: string, error?: Error) => this.#lost(stream.generation, reason, error);
    const { encoding, debug } = this.options;
    this.#paused = false;
    response.on('data', (chunk: Buffer) => {
      if (stream.generation !== this.#generation) return;
      let records: Uint8Array[];
      try {
        records = decoder.push(chunk);
      } catch (err) {
        lost('bad RecordIO framing in the event stream', errorOf(err));
        return;
      }
      if (records.length > 0) this.#lastEventAt = Date.now();
      for (const record of records) {
        if (stream.generation !== this.#generation) return;
        let event: SchedulerEvent;
        try {
          event = schedulerEvent.decode(record, encoding);
        } catch (err) {
          lost('undecodable event in the event stream', errorOf(err));
          return;
        }
        if (debug) this.#log.trace('event received', { type: event.type, bytes: record.byteLength });
        this.#receive(event);
      }
      this.#flow();
    });
    response.once('end', () => lost('the master ended the event stream'));
    response.once('error', (err) => lost('the event stream failed', err));
    response.once('close', () => lost('the event stream closed'));
  }

  #receive(event: SchedulerEvent): void {
    if (this.#watchdog !== undefined) this.#watchdog.refresh();
    else this.#armWatchdog();
    if (event.type === 'SUBSCRIBED' && event.subscribed !== undefined) {
      const s = event.subscribed;
      this.#frameworkId = s.framework_id.value;
      this.#streamId = this.#streamIdCandidate;
      this.#reconnectAttempt = 0;
      this.#heartbeatMs =
        s.heartbeat_interval_seconds !== undefined && s.heartbeat_interval_seconds > 0
          ? s.heartbeat_interval_seconds * 1000
          : undefined;
      this.#armWatchdog();
      const info: SubscribedInfo = {
        frameworkId: s.framework_id.value,
        heartbeatIntervalSeconds: s.heartbeat_interval_seconds,
        masterInfo: s.master_info,
        master: this.#leader.href,
        resubscribed: this.#subscribedCount++ > 0,
        resumed: this.#resuming,
      };
      this.#log.info('subscribed', {
        frameworkId: info.frameworkId,
        master: info.master,
        resumed: info.resumed,
      });
      this.#saveFrameworkId(info.frameworkId);
      this.#pushStatus({ type: 'subscribed', frameworkId: info.frameworkId, master: info.master });
      this.#pendingSubscribe?.resolve();
      this.#pendingSubscribe = undefined;
      this.#events?.push(event);
      this.#dispatch('subscribed', info);
      if (info.resumed && this.options.reconcileOnResubscribe === 'implicit') {
        // Offers died with the old subscription; task states may have moved while we were away.
        this.reconcile().catch((err: unknown) => {
          this.#log.warn('implicit reconciliation after resubscribe failed', { error: errorOf(err) });
        });
      }
      return;
    }
    if (event.type === 'ERROR') {
      const message = event.error?.message ?? 'unknown error';
      this.#log.error('master sent ERROR', { message });
      const err = new SubscriptionLostError(`the master sent ERROR: ${message}`);
      // The framework is gone for good (torn down, or failover_timeout expired): forget its id
      // so that the next connect() registers a new framework.
      if (message === FRAMEWORK_REMOVED) this.#clearFrameworkId();
      this.#events?.push(event);
      this.#dispatch('error', message);
      this.#stopping = true;
      this.#pendingSubscribe?.reject(err);
      this.#pendingSubscribe = undefined;
      // Fatal for the stream and, since a re-subscription would fight a newer scheduler or a
      // removed framework, for the client.
      this.#dispatching.then(() => this.#storeOps).then(() => this.#close(err));
      return;
    }
    this.#events?.push(event);
    switch (event.type) {
      case 'OFFERS':
        this.#dispatch('offers', event.offers?.offers ?? []);
        break;
      case 'RESCIND':
        if (event.rescind) this.#dispatch('rescind', event.rescind.offer_id.value);
        break;
      case 'UPDATE':
        if (event.update) this.#dispatchUpdate(event.update.status);
        break;
      case 'MESSAGE':
        if (event.message) this.#dispatch('message', event.message);
        break;
      case 'FAILURE':
        if (event.failure) this.#dispatch('failure', event.failure);
        break;
      default:
        // HEARTBEAT, inverse offers, operation updates and unknown types: events() only.
        break;
    }
  }

  /**
   * Runs listeners in event order; the next event's listeners start after these settled. When
   * nothing is pending, they run at once, and only a listener that returns a promise makes the
   * following events wait (no promise per event for synchronous listeners).
   */
  #dispatch<E extends EventName>(
    name: E,
    arg: Parameters<SchedulerClientEvents[E]>[0],
    after?: (ok: boolean) => Promise<void> | void,
  ): void {
    if (this.#pendingDispatches === 0 && this.#gateOpen) {
      // Counted while running: an event dispatched by a listener queues behind this one.
      this.#pendingDispatches++;
      const pending = this.#runListeners(name, arg, after);
      if (pending === undefined) {
        this.#pendingDispatches--;
        return;
      }
      const done = pending.finally(() => this.#dispatched());
      this.#dispatching = this.#dispatching.then(() => done);
      return;
    }
    this.#pendingDispatches++;
    this.#dispatching = this.#dispatching
      .then(() => this.#runListeners(name, arg, after))
      .finally(() => this.#dispatched());
  }

  #dispatched(): void {
    this.#pendingDispatches--;
    this.#flow();
  }

  /** Runs the listeners, then `after`; a promise only if one of them did not finish at once. */
  #runListeners<E extends EventName>(
    name: E,
    arg: Parameters<SchedulerClientEvents[E]>[0],
    after?: (ok: boolean) => Promise<void> | void,
  ): Promise<void> | undefined {
    const set = this.#listeners.get(name);
    let ok = true;
    const failed = (err: unknown): void => {
      ok = false;
      this.#log.error('listener failed', { event: name, error: errorOf(err) });
    };
    let waits: Promise<unknown>[] | undefined;
    if (set !== undefined && set.size > 0) {
      // A copy when several: a listener may add or remove listeners.
      for (const fn of set.size === 1 ? set : [...set]) {
        try {
          const result = (fn as (a: typeof arg) => unknown)(arg);
          if (isThenable(result)) {
            waits ??= [];
            waits.push(Promise.resolve(result).catch(failed));
          }
        } catch (err) {
          failed(err);
        }
      }
    }
    if (waits === undefined) return this.#runAfter(name, after, ok);
    return Promise.all(waits).then(() => this.#runAfter(name, after, ok));
  }

  #runAfter(name: EventName, after: ((ok: boolean) => Promise<void> | void) | undefined, ok: boolean) {
    if (after === undefined) return undefined;
    const warn = (err: unknown): void => {
      this.#log.warn('after-listener step failed', { event: name, error: errorOf(err) });
    };
    try {
      const result = after(ok);
      return isThenable(result) ? Promise.resolve(result).catch(warn) : undefined;
    } catch (err) {
      warn(err);
      return undefined;
    }
  }

  /**
   * Backpressure: pauses the subscription socket at the high-water mark and resumes it at the
   * low-water mark. Never before SUBSCRIBED (a stalled subscribe would time out). While paused the
   * heartbeat watchdog is off: silence is our doing, not the master's.
   */
  #flow(): void {
    const response = this.#stream?.response;
    const buffered = this.bufferedEvents;
    const { highWaterMark, lowWaterMark } = this.options.eventBuffer;
    if (!this.#paused) {
      if (buffered < highWaterMark || response === undefined || this.#pendingSubscribe !== undefined) return;
      this.#paused = true;
      response.pause();
      this.#stopWatchdog();
      this.#log.debug('event buffer full, pausing the event stream', { buffered });
    } else if (buffered <= lowWaterMark) {
      this.#paused = false;
      response?.resume();
      this.#armWatchdog();
      this.#log.debug('event buffer drained, resuming the event stream', { buffered });
    }
  }

  #dispatchUpdate(status: TaskStatus): void {
    this.#dispatch('update', status, (ok) => {
      if (this.options.ack !== 'auto' || status.uuid === undefined || status.agent_id === undefined) return;
      if (!ok) {
        this.#log.warn('update listener failed; not acknowledging (Mesos will resend)', {
          taskId: status.task_id.value,
          state: status.state,
        });
        return;
      }
      // Not awaited: the next event's callbacks need not wait for this ACK's round trip. The
      // ACK counts as a buffered event until the master answered it.
      this.#pendingAcks++;
      this.acknowledge(status)
        .catch((err: unknown) => {
          this.#log.warn('automatic acknowledge failed (Mesos will resend the update)', {
            taskId: status.task_id.value,
            state: status.state,
            error: errorOf(err),
          });
        })
        .finally(() => {
          this.#pendingAcks--;
          this.#flow();
        });
    });
  }

  #stopWatchdog(): void {
    clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
  }

  /** Starts the watchdog (again) from now. Per event it is only refreshed: no new timer. */
  #armWatchdog(): void {
    if (this.#heartbeatMs === undefined || this.#closed || this.#paused) return;
    clearTimeout(this.#watchdog);
    const limit = this.#heartbeatMs * this.options.heartbeatMissedIntervals;
    const generation = this.#generation;
    this.#watchdog = setTimeout(() => {
      this.#watchdog = undefined;
      if (generation !== this.#generation) return;
      const silentMs = Date.now() - this.#lastEventAt;
      this.#log.warn('heartbeats missed, reconnecting', { silentMs });
      this.#pushStatus({ type: 'heartbeat-missed', silentMs });
      this.#lost(generation, `no event for ${silentMs} ms (heartbeats missed)`);
    }, limit);
    this.#watchdog.unref?.();
  }

  /** The stream of `generation` is gone: tell everyone and schedule a reconnect. */
  #lost(generation: number, reason: string, error?: Error): void {
    if (generation !== this.#generation || this.#stream?.generation !== generation) return;
    const stream = this.#stream;
    this.#stream = undefined;
    this.#generation++;
    stream.destroy();
    this.#paused = false;
    this.#stopWatchdog();
    const pending = this.#pendingSubscribe;
    this.#pendingSubscribe = undefined;
    if (pending !== undefined) {
      // Never got SUBSCRIBED on this stream: the subscribe attempt itself failed.
      pending.reject(error ?? new Error(reason));
      return;
    }
    const wasSubscribed = this.#streamId !== undefined;
    this.#streamId = undefined;
    if (this.#closed || this.#stopping) return;
    if (wasSubscribed) {
      this.#log.warn('disconnected', { reason, error });
      const info: DisconnectedInfo = { reason, ...(error && { error }) };
      this.#pushStatus({ type: 'disconnected', ...info });
      this.#dispatch('disconnected', info);
    }
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#stopping || this.#reconnectTimer !== undefined) return;
    const { initialMs, maxMs, jitter } = this.options.reconnect;
    const attempt = ++this.#reconnectAttempt;
    const base = Math.min(maxMs, initialMs * 2 ** (attempt - 1));
    const delayMs = Math.round(base * (1 - jitter * this.options.random()));
    this.#pushStatus({ type: 'reconnecting', attempt, delayMs });
    this.#log.info('reconnecting', { attempt, delayMs });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#subscribe().catch((err: unknown) => {
        if (this.#closed) return;
        if (err instanceof SubscriptionLostError) return; // closed by the ERROR path
        this.#log.warn('resubscribe failed', { attempt, error: errorOf(err) });
        this.#scheduleReconnect();
      });
    }, delayMs);
  }

  #pushStatus(status: ConnectionStatus): void {
    for (const queue of this.#statusQueues) queue.push(status);
  }

  // ---------------------------------------------------------------- closing

  #close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#openGate();
    this.#closedError = error;
    this.#stopWatchdog();
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    const stream = this.#stream;
    this.#stream = undefined;
    this.#generation++;
    this.#streamId = undefined;
    stream?.destroy();
    this.#pendingSubscribe?.reject(error ?? new NotSubscribedError('closed while subscribing'));
    this.#pendingSubscribe = undefined;
    this.#abort.abort();
    for (const pipeline of this.#pipelines.values())
      pipeline.close(new NotSubscribedError('the client closed'));
    this.#pipelines.clear();
    this.#lastPipeline = undefined;
    this.#pushStatus({ type: 'closed', ...(error && { error }) });
    for (const queue of this.#statusQueues) queue.end();
    this.#statusQueues.clear();
    this.#events?.end();
    this.#closedResolve(error);
  }

  /**
   * Closes the subscription connection (the master then treats the framework as disconnected
   * and, after `failover_timeout`, removes it) and the call connection. Pending listener runs
   * are awaited. Idempotent.
   */
  async close(): Promise<void> {
    this.#close();
    await this.#dispatching;
    await this.#storeOps;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
