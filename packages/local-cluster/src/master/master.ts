/**
 * `LocalMaster`: a single-process, Mesos-compatible master. It serves the v1 scheduler API over
 * HTTP, keeps frameworks, agents, offers and tasks in memory, and talks to agents through the
 * `AgentApi`/`MasterApi` contract of `../link.ts`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  addResources,
  InvalidOptionsError,
  isTerminalTaskState,
  type Logger,
  type MesosEncoding,
  type mesos,
  schedulerEvent,
  silentLogger,
  subtractResources,
  validateResources,
} from '@mesoskit/protocol';
import { coalesceWrites, RecordIOResponse, sendAccepted, sendOk, sendText } from '../http.js';
import { IdGenerator, randomId } from '../ids.js';
import type {
  AgentApi,
  AgentRegistered,
  AgentRegistration,
  AgentTask,
  MasterApi,
  RunTaskRequest,
  StatusUpdateMessage,
} from '../link.js';
import { AGENT_LINK_PATH } from '../link-http.js';
import { AgentLinkEndpoint } from './agent-endpoint.js';
import { type Allocation, Allocator, refuseMs } from './allocator.js';
import { handleEndpoint } from './endpoints.js';
import {
  type AgentEntry,
  type CompletedFramework,
  countFor,
  type FrameworkEntry,
  frameworkRoles,
  hasCapability,
  type OfferEntry,
  type Subscription,
  type TaskEntry,
} from './model.js';
import { allocated, offerOrder, offerShape, unallocated, withAllocation } from './resources.js';
import { handleSchedulerRequest, type SchedulerHost } from './scheduler-api.js';
import {
  fitError,
  type TaskContext,
  validateExecutor,
  validateFrameworkInfo,
  validateGroupExecutorResources,
  validateOfferConstraints,
  validateSuppressedRoles,
  validateTask,
} from './validation.js';

type Call = mesos.v1.scheduler.Call;
type Event = mesos.v1.scheduler.Event;
type Resource = mesos.v1.Resource;
type TaskStatus = mesos.v1.TaskStatus;

/** Per-framework counter names of the hot call and event types, made once. */
const CALL_COUNTERS: Partial<Record<string, string>> = {
  ACCEPT: 'calls/accept',
  ACKNOWLEDGE: 'calls/acknowledge',
  DECLINE: 'calls/decline',
};
const EVENT_COUNTERS: Partial<Record<string, string>> = {
  UPDATE: 'events/update',
  OFFERS: 'events/offers',
  HEARTBEAT: 'events/heartbeat',
};

/** The version the master reports (`MasterInfo.version`, `/version`). */
export const MESOS_VERSION = '1.12.0';

export interface LocalMasterOptions {
  /** Interface to listen on (default `127.0.0.1`). */
  host?: string;
  /** Port (default 0: chosen by the OS, read back into `url`). */
  port?: number;
  /** Hostname reported in MasterInfo and redirects (default `localhost`). */
  hostname?: string;
  /** Minimum time between two allocation cycles (default 50 ms; Mesos: 1 s). */
  allocationIntervalMs?: number;
  /** Offers not used within this time are rescinded (default: never, like Mesos). */
  offerTimeoutMs?: number;
  /** Scheduler heartbeat interval (default 15000, Mesos' fixed value; shorten only in tests). */
  heartbeatIntervalMs?: number;
  /** HTTP Basic credentials; when set, every scheduler call must authenticate. */
  credentials?: { principal: string; secret: string }[];
  /**
   * The health check of agents (Mesos' `--agent_ping_timeout`): a ping goes out this often, and
   * an agent that missed `maxAgentPingTimeouts` pongs in a row is marked unreachable.
   * @default 15000
   */
  agentPingTimeoutMs?: number;
  /** Mesos' `--max_agent_ping_timeouts` (default 5). */
  maxAgentPingTimeouts?: number;
  /**
   * An agent whose connection broke and that has not registered again within this time is
   * marked unreachable (Mesos' `--agent_reregister_timeout`).
   * @default 600000
   */
  agentReregisterTimeoutMs?: number;
  /** The master id (default: a random UUID). */
  masterId?: string;
  logger?: Logger;
  /** Wall clock in milliseconds (default `Date.now`). */
  now?: () => number;
}

/** Mesos' fixed scheduler heartbeat interval. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 15_000;
/** Minimum time between allocation cycles (Mesos' `--allocation_interval` is 1 s). */
export const DEFAULT_ALLOCATION_INTERVAL_MS = 50;

/** IPv4 text → the uint32 Mesos puts in `MasterInfo.ip` (network byte order read as host order). */
function packIp(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return 0;
  return ((parts[3]! << 24) >>> 0) + (parts[2]! << 16) + (parts[1]! << 8) + parts[0]!;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  return a.every((x, i) => x === b[i]);
}

export class LocalMaster implements MasterApi {
  readonly #options: LocalMasterOptions;
  readonly #logger: Logger;
  readonly #ids: IdGenerator;
  readonly #now: () => number;
  readonly #heartbeatMs: number;
  readonly #allocator: Allocator;
  readonly #agents = new Map<string, AgentEntry>();
  readonly #frameworks = new Map<string, FrameworkEntry>();
  readonly #completed = new Map<string, CompletedFramework>();
  readonly #offers = new Map<string, OfferEntry>();
  readonly #startTime: number;
  readonly #schedulerHost: SchedulerHost;
  readonly #agentLink: AgentLinkEndpoint;
  #server: Server | undefined;
  #masterInfo: mesos.v1.MasterInfo | undefined;
  #stopped = false;
  #leader: { hostname: string; port: number } | null | undefined;
  readonly #counters = {
    offersSent: 0,
    offersDeclined: 0,
    offersAccepted: 0,
    offersRescinded: 0,
    tasksLaunched: 0,
  };

  /**
   * Creates a master without starting it; use {@link LocalMaster.start}.
   * @throws {InvalidOptionsError} for intervals that cannot work.
   */
  constructor(options: LocalMasterOptions = {}) {
    checkOptions(options);
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#ids = new IdGenerator(options.masterId);
    this.#now = options.now ?? Date.now;
    this.#heartbeatMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.#startTime = this.#now();
    this.#allocator = new Allocator(
      {
        agents: () => this.#agents.values(),
        activeFrameworks: () => [...this.#frameworks.values()].filter((f) => f.subscription),
        offer: (framework, allocations) => this.#makeOffers(framework, allocations),
        now: () => this.#now(),
      },
      options.allocationIntervalMs ?? DEFAULT_ALLOCATION_INTERVAL_MS,
      this.#logger,
    );
    this.#schedulerHost = {
      leader: () => this.#leader,
      logger: this.#logger,
      subscribe: (call, principal, encoding, res) => this.#subscribe(call, principal, encoding, res),
      findFramework: (id) => this.#frameworks.get(id),
      handleCall: (framework, call, res, _accept, principal) =>
        this.#handleCall(framework, call, res, principal),
    };
    if (options.credentials) this.#schedulerHost.credentials = options.credentials;
    this.#agentLink = new AgentLinkEndpoint(this, this.#logger);
  }

  /** Starts a master listening on `options.host:options.port`. */
  static async start(options: LocalMasterOptions = {}): Promise<LocalMaster> {
    const master = new LocalMaster(options);
    await master.#listen();
    return master;
  }

  async #listen(): Promise<void> {
    const server = createServer((req, res) => this.#route(req, res));
    server.keepAliveTimeout = 60_000;
    coalesceWrites(server);
    this.#server = server;
    const host = this.#options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const hostname = this.#options.hostname ?? 'localhost';
    this.#masterInfo = {
      id: this.#ids.masterId,
      ip: packIp(host),
      port,
      pid: `master@${host}:${port}`,
      hostname,
      version: MESOS_VERSION,
      address: { hostname, ip: host, port },
      capabilities: [{ type: 'AGENT_UPDATE' }, { type: 'AGENT_DRAINING' }, { type: 'QUOTA_V2' }],
    };
  }

  /** `http://host:port` of the master. */
  get url(): string {
    const info = this.masterInfo;
    return `http://${info.address?.ip ?? '127.0.0.1'}:${info.port}`;
  }

  get masterInfo(): mesos.v1.MasterInfo {
    if (!this.#masterInfo) throw new Error('LocalMaster is not started');
    return this.#masterInfo;
  }

  /**
   * Test mode for leader detection (§1.6): with a leader, every scheduler request is answered
   * `307` to `//host:port/master/api/v1/scheduler`; with `null`, `503 No leader elected`; with
   * `undefined` (the default) this master leads again. Existing subscriptions are not touched.
   */
  setLeader(leader: { hostname: string; port: number } | null | undefined): void {
    this.#leader = leader === undefined || leader === null ? leader : { ...leader };
  }

  /**
   * Fault injection: cuts a framework's subscription connection (no end-of-stream chunk), as a
   * network failure would. The master then handles the disconnection as usual. Returns false if
   * the framework has no subscription.
   */
  dropSubscription(frameworkId: string): boolean {
    const sub = this.#frameworks.get(frameworkId)?.subscription;
    if (!sub) return false;
    sub.response.destroy();
    return true;
  }

  /** Stops serving: ends every stream, clears every timer, closes the server and its sockets. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#allocator.stop();
    for (const agent of this.#agents.values()) {
      clearInterval(agent.pingTimer);
      this.#clearReregisterTimer(agent);
    }
    this.#agentLink.closeAll();
    for (const offer of this.#offers.values()) if (offer.timer) clearTimeout(offer.timer);
    for (const fw of this.#frameworks.values()) {
      if (fw.failoverTimer) clearTimeout(fw.failoverTimer);
      fw.failoverTimer = undefined;
      this.#closeSubscription(fw);
    }
    const server = this.#server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  // ---------------------------------------------------------------- HTTP

  #route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/api/v1/scheduler' || path === '/master/api/v1/scheduler') {
      handleSchedulerRequest(this.#schedulerHost, req, res).catch((err: unknown) => {
        this.#logger.error('scheduler request failed', { error: String(err) });
        if (!res.headersSent) sendText(res, 500, 'Internal Server Error');
        else res.destroy();
      });
      return;
    }
    if (path === AGENT_LINK_PATH) {
      this.#agentLink.handle(req, res).catch((err: unknown) => {
        this.#logger.error('agent link request failed', { error: String(err) });
        if (!res.headersSent) sendText(res, 500, 'Internal Server Error');
        else res.destroy();
      });
      return;
    }
    try {
      handleEndpoint(this.#endpointHost, req, res, path);
    } catch (err) {
      this.#logger.error('endpoint failed', { error: String(err), path });
      if (!res.headersSent) sendText(res, 500, 'Internal Server Error');
    }
  }

  get #endpointHost() {
    return {
      masterInfo: this.masterInfo,
      leader: this.#leader,
      startTime: this.#startTime,
      agents: this.#agents,
      frameworks: this.#frameworks,
      completed: this.#completed,
      counters: this.#counters,
      allocatorMetrics: () => this.#allocator.metrics(),
      now: this.#now,
    };
  }

  // ---------------------------------------------------------------- events

  #send(framework: FrameworkEntry, event: Event): boolean {
    const sub = framework.subscription;
    if (!sub) return false;
    try {
      const sent = sub.stream.send(schedulerEvent.encode(event, sub.stream.encoding));
      if (sent) {
        countFor(framework, 'events');
        const type = event.type ?? 'UNKNOWN';
        countFor(framework, EVENT_COUNTERS[type] ?? `events/${type.toLowerCase()}`);
      }
      return sent;
    } catch (err) {
      this.#logger.error('failed to encode event', { error: String(err), type: event.type });
      return false;
    }
  }

  #timestamp(): number {
    return this.#now() / 1000;
  }

  /** A master-generated update (no uuid). */
  #masterUpdate(
    framework: FrameworkEntry,
    fields: Omit<TaskStatus, 'source' | 'timestamp'> & { reason: mesos.v1.TaskStatus.Reason },
  ): void {
    const status: TaskStatus = { ...fields, source: 'SOURCE_MASTER', timestamp: this.#timestamp() };
    this.#send(framework, { type: 'UPDATE', update: { status } });
  }

  // ---------------------------------------------------------------- subscription

  #subscribe(call: Call, principal: string | undefined, encoding: MesosEncoding, res: ServerResponse): void {
    const subscribe = call.subscribe!;
    const info: mesos.v1.FrameworkInfo = { ...subscribe.framework_info };
    if (principal !== undefined && info.principal === undefined) info.principal = principal;
    const streamId = randomId();
    const stream = new RecordIOResponse(res, encoding, { 'Mesos-Stream-Id': streamId });
    const refuse = (message: string): void => {
      stream.send(schedulerEvent.encode({ type: 'ERROR', error: { message } }, encoding));
      stream.end();
    };
    if (this.#stopped) {
      stream.end();
      return;
    }
    const problem = validateFrameworkInfo(info);
    if (problem) {
      refuse(problem);
      return;
    }
    const roles = frameworkRoles(info);
    const suppressedRoles = subscribe.suppressed_roles ?? [];
    const suppressedProblem =
      validateSuppressedRoles(suppressedRoles, roles) ??
      validateOfferConstraints(subscribe.offer_constraints, roles);
    if (suppressedProblem) {
      refuse(suppressedProblem);
      return;
    }
    const requestedId = info.id?.value || undefined;
    if (requestedId !== undefined && this.#completed.has(requestedId)) {
      refuse('Framework has been removed');
      return;
    }

    let framework = requestedId === undefined ? undefined : this.#frameworks.get(requestedId);
    if (framework) {
      if (framework.info.principal !== undefined && info.principal !== framework.info.principal) {
        refuse("Changing framework's principal is not allowed.");
        return;
      }
      // Failover: the old stream (if any) learns it lost, offers are discarded silently.
      if (framework.subscription) {
        const old = framework.subscription;
        this.#send(framework, { type: 'ERROR', error: { message: 'Framework failed over' } });
        framework.subscription = undefined;
        if (old.heartbeat) clearInterval(old.heartbeat);
        old.stream.end();
      }
      if (framework.failoverTimer) clearTimeout(framework.failoverTimer);
      framework.failoverTimer = undefined;
      this.#discardOffers(framework);
      // Mesos deactivates a disconnected framework (dropping its offer filters) and re-activates
      // it on re-subscription: capture 10 got an offer at once, though a 5 s filter from its
      // ACCEPT 2 s earlier covered the same resources.
      this.#allocator.clearFilters(framework);
      // Changes of `user` and `checkpoint` are silently ignored (§2.2).
      const { user, checkpoint } = framework.info;
      framework.info = { ...info, id: { value: framework.id }, user };
      if (checkpoint === undefined) delete framework.info.checkpoint;
      else framework.info.checkpoint = checkpoint;
      framework.roles = roles;
      framework.reregisteredTime = this.#now();
      framework.recovered = false;
    } else {
      const id = requestedId ?? this.#ids.framework();
      framework = {
        id,
        info: { ...info, id: { value: id } },
        roles,
        suppressed: new Set(),
        tasks: new Map(),
        completedTasks: [],
        offers: new Set(),
        filters: [],
        registeredTime: this.#now(),
      };
      this.#frameworks.set(id, framework);
    }
    framework.suppressed = new Set(suppressedRoles);
    const fw = framework;
    const subscription: Subscription = { streamId, stream, response: res };
    fw.subscription = subscription;
    this.#send(fw, {
      type: 'SUBSCRIBED',
      subscribed: {
        framework_id: { value: fw.id },
        heartbeat_interval_seconds: this.#heartbeatMs / 1000,
        master_info: this.masterInfo,
      },
    });
    this.#send(fw, { type: 'HEARTBEAT' });
    const heartbeat = setInterval(() => {
      if (fw.subscription === subscription) this.#send(fw, { type: 'HEARTBEAT' });
    }, this.#heartbeatMs);
    Object.assign(subscription, { heartbeat });
    const onClose = (): void => {
      clearInterval(heartbeat);
      if (fw.subscription === subscription) this.#disconnected(fw);
    };
    stream.onClose(onClose);
    // The client may have gone while its body was read: 'close' was already emitted then.
    if (stream.closed) {
      onClose();
      return;
    }
    this.#logger.info('framework subscribed', { frameworkId: fw.id, name: fw.info.name, streamId });
    for (const agent of this.#agents.values()) {
      if (agent.connected) this.#agentCall(agent, (api) => api.updateFramework(fw.info));
    }
    this.#allocator.schedule();
  }

  #closeSubscription(framework: FrameworkEntry): void {
    const sub = framework.subscription;
    if (!sub) return;
    framework.subscription = undefined;
    if (sub.heartbeat) clearInterval(sub.heartbeat);
    sub.stream.end();
  }

  /** The subscription connection went away: deactivate, drop offers, start the failover timer. */
  #disconnected(framework: FrameworkEntry): void {
    this.#logger.info('framework disconnected', { frameworkId: framework.id });
    framework.subscription = undefined;
    framework.unregisteredTime = this.#now();
    this.#discardOffers(framework);
    if (this.#stopped) return;
    const timeoutMs = Math.max(0, (framework.info.failover_timeout ?? 0) * 1000);
    if (timeoutMs === 0) {
      this.#removeFramework(framework);
      return;
    }
    this.#armFailoverTimer(framework, this.#now() + timeoutMs);
  }

  /** Node timers hold at most ~24.8 days: re-arm until the deadline really passed. */
  #armFailoverTimer(framework: FrameworkEntry, deadline: number): void {
    const MAX_TIMER_MS = 2 ** 31 - 1;
    framework.failoverTimer = setTimeout(
      () => {
        framework.failoverTimer = undefined;
        if (framework.subscription || this.#stopped) return;
        if (this.#now() < deadline) this.#armFailoverTimer(framework, deadline);
        else this.#removeFramework(framework);
      },
      Math.min(Math.max(0, deadline - this.#now()), MAX_TIMER_MS),
    );
  }

  /** TEARDOWN, or the failover timeout expired. */
  #removeFramework(framework: FrameworkEntry): void {
    this.#logger.info('framework removed', { frameworkId: framework.id });
    if (framework.failoverTimer) clearTimeout(framework.failoverTimer);
    framework.failoverTimer = undefined;
    this.#discardOffers(framework);
    this.#frameworks.delete(framework.id);
    this.#closeSubscription(framework);
    for (const task of framework.tasks.values()) {
      this.#releaseTask(task);
      task.state = 'TASK_KILLED';
      task.statuses.push({ state: 'TASK_KILLED', timestamp: this.#timestamp() });
      framework.completedTasks.push(task);
    }
    framework.tasks.clear();
    for (const agent of this.#agents.values()) {
      const executors = agent.executors.get(framework.id);
      if (executors) {
        for (const executor of executors.values()) this.#releaseUsed(agent, executor.resources);
        agent.executors.delete(framework.id);
      }
      if (agent.connected) this.#agentCall(agent, (api) => api.shutdownFramework(framework.id));
    }
    this.#completed.set(framework.id, {
      id: framework.id,
      info: framework.info,
      completedTasks: framework.completedTasks,
      unregisteredTime: this.#now(),
    });
    this.#allocator.schedule();
  }

  // ---------------------------------------------------------------- offers

  #makeOffers(framework: FrameworkEntry, allocations: Allocation[]): void {
    const multiRole = hasCapability(framework.info, 'MULTI_ROLE');
    const refinement = hasCapability(framework.info, 'RESERVATION_REFINEMENT');
    const offers: mesos.v1.Offer[] = [];
    for (const { agent, role, resources } of allocations) {
      const id = this.#ids.offer();
      const entry: OfferEntry = { id, frameworkId: framework.id, agentId: agent.id, role, resources };
      this.#offers.set(id, entry);
      framework.offers.add(id);
      agent.offered = addResources(agent.offered, resources);
      if (this.#options.offerTimeoutMs !== undefined) {
        entry.timer = setTimeout(() => this.#rescindOffer(entry), this.#options.offerTimeoutMs);
      }
      const executorIds = [...(agent.executors.get(framework.id)?.keys() ?? [])].map((value) => ({ value }));
      const offer: mesos.v1.Offer = {
        id: { value: id },
        framework_id: { value: framework.id },
        agent_id: { value: agent.id },
        hostname: agent.hostname,
        url: {
          scheme: 'http',
          address: { hostname: agent.hostname, ip: agent.ip, port: agent.port },
          path: '/slave(1)',
        },
        resources: offerShape(resources, role, { multiRole, refinement }),
      };
      if (agent.attributes.length > 0) offer.attributes = agent.attributes;
      if (executorIds.length > 0) offer.executor_ids = executorIds;
      if (multiRole) offer.allocation_info = { role };
      offers.push(offer);
      this.#counters.offersSent++;
    }
    countFor(framework, 'offers/sent', offers.length);
    this.#send(framework, { type: 'OFFERS', offers: { offers } });
  }

  /** Removes an offer from the books and returns its resources to the agent's pool. */
  #removeOffer(offer: OfferEntry): void {
    if (offer.timer) clearTimeout(offer.timer);
    this.#offers.delete(offer.id);
    this.#frameworks.get(offer.frameworkId)?.offers.delete(offer.id);
    const agent = this.#agents.get(offer.agentId);
    if (agent) {
      try {
        agent.offered = subtractResources(agent.offered, offer.resources);
      } catch (err) {
        this.#logger.error('offer accounting mismatch', { error: String(err), offerId: offer.id });
        agent.offered = [];
      }
    }
  }

  /** Offers of a framework vanish without RESCIND (re-subscription, disconnect, teardown). */
  #discardOffers(framework: FrameworkEntry): void {
    for (const id of [...framework.offers]) {
      const offer = this.#offers.get(id);
      if (offer) this.#removeOffer(offer);
    }
    framework.offers.clear();
    this.#allocator.schedule();
  }

  #rescindOffer(offer: OfferEntry): void {
    if (!this.#offers.has(offer.id)) return;
    this.#removeOffer(offer);
    this.#counters.offersRescinded++;
    const framework = this.#frameworks.get(offer.frameworkId);
    if (framework) countFor(framework, 'offers/rescinded');
    if (framework) this.#send(framework, { type: 'RESCIND', rescind: { offer_id: { value: offer.id } } });
    this.#allocator.schedule();
  }

  // ---------------------------------------------------------------- calls

  #handleCall(
    framework: FrameworkEntry,
    call: Call,
    res: ServerResponse,
    principal: string | undefined,
  ): void {
    // Every call but UPDATE_FRAMEWORK answers 202, after its effects: events it causes (e.g. a
    // master-generated UPDATE) reach the stream before the response, as with Mesos.
    countFor(framework, 'calls');
    const type = call.type ?? 'UNKNOWN';
    countFor(framework, CALL_COUNTERS[type] ?? `calls/${type.toLowerCase()}`);
    switch (call.type) {
      case 'UPDATE_FRAMEWORK':
        this.#updateFramework(framework, call.update_framework!, res, principal);
        return;
      case 'TEARDOWN':
        this.#removeFramework(framework);
        break;
      case 'ACCEPT':
        this.#accept(framework, call.accept!);
        break;
      case 'DECLINE':
        this.#decline(framework, call.decline!.offer_ids ?? [], call.decline!.filters);
        break;
      case 'REVIVE':
        this.#revive(framework, call.revive?.roles ?? []);
        break;
      case 'SUPPRESS':
        this.#suppress(framework, call.suppress?.roles ?? []);
        break;
      case 'KILL':
        this.#kill(framework, call.kill!);
        break;
      case 'SHUTDOWN': {
        const { agent_id, executor_id } = call.shutdown!;
        const agent = this.#agents.get(agent_id.value);
        if (agent?.connected)
          this.#agentCall(agent, (api) => api.shutdownExecutor(framework.id, executor_id.value));
        break;
      }
      case 'ACKNOWLEDGE':
        this.#acknowledge(framework, call.acknowledge!);
        break;
      case 'RECONCILE':
        this.#reconcile(framework, call.reconcile!.tasks ?? []);
        break;
      case 'MESSAGE': {
        const { agent_id, executor_id, data } = call.message!;
        const agent = this.#agents.get(agent_id.value);
        if (agent?.connected) {
          this.#agentCall(agent, (api) => api.frameworkMessage(framework.id, executor_id.value, data));
        }
        break;
      }
      case 'RECONCILE_OPERATIONS':
        this.#reconcileOperations(framework, call.reconcile_operations!);
        break;
      default:
        // REQUEST (ignored by the default allocator), inverse offers (none are ever made) and
        // operation acknowledgements (no operation feedback needs one).
        break;
    }
    sendAccepted(res);
  }

  #agentCall(agent: AgentEntry, fn: (api: AgentApi) => void): void {
    try {
      fn(agent.api);
    } catch (err) {
      this.#logger.error('agent call failed', { error: String(err), agentId: agent.id });
    }
  }

  #decline(
    framework: FrameworkEntry,
    offerIds: readonly mesos.v1.OfferID[],
    filters?: mesos.v1.Filters,
  ): void {
    const ms = refuseMs(filters);
    for (const { value } of offerIds) {
      const offer = this.#offers.get(value);
      if (!offer || offer.frameworkId !== framework.id) continue;
      this.#removeOffer(offer);
      this.#counters.offersDeclined++;
      countFor(framework, 'offers/declined');
      this.#allocator.addFilter(
        framework,
        { agentId: offer.agentId, role: offer.role, resources: offer.resources },
        ms,
      );
    }
    this.#allocator.schedule();
  }

  #rolesOk(framework: FrameworkEntry, roles: readonly string[]): boolean {
    return roles.every((r) => framework.roles.includes(r));
  }

  #revive(framework: FrameworkEntry, roles: readonly string[]): void {
    if (!this.#rolesOk(framework, roles)) return;
    const target = roles.length > 0 ? roles : framework.roles;
    for (const role of target) framework.suppressed.delete(role);
    this.#allocator.clearFilters(framework, target);
    this.#allocator.schedule();
  }

  #suppress(framework: FrameworkEntry, roles: readonly string[]): void {
    if (!this.#rolesOk(framework, roles)) return;
    for (const role of roles.length > 0 ? roles : framework.roles) framework.suppressed.add(role);
  }

  #accept(framework: FrameworkEntry, accept: mesos.v1.scheduler.Call.Accept): void {
    const offerIds = (accept.offer_ids ?? []).map((o) => o.value);
    const operations = accept.operations ?? [];
    const offerError = this.#validateOffers(framework, offerIds);
    if (offerError) {
      for (const id of offerIds) {
        const offer = this.#offers.get(id);
        if (offer && offer.frameworkId === framework.id) this.#removeOffer(offer);
      }
      for (const operation of operations) {
        if (operation.type !== 'LAUNCH' && operation.type !== 'LAUNCH_GROUP') {
          this.#unsupportedOperation(framework, operation, undefined, offerError);
        }
      }
      const state = hasCapability(framework.info, 'PARTITION_AWARE') ? 'TASK_DROPPED' : 'TASK_LOST';
      for (const task of tasksOf(operations)) {
        this.#masterUpdate(framework, {
          task_id: task.task_id,
          state,
          message: `Task launched with invalid offers: ${offerError}`,
          reason: 'REASON_INVALID_OFFERS',
          agent_id: task.agent_id,
        });
      }
      this.#allocator.schedule();
      return;
    }
    const offers = offerIds.map((id) => this.#offers.get(id)!);
    const first = offers[0]!;
    const role = first.role;
    const agent = this.#agents.get(first.agentId)!;
    let pool: Resource[] = [];
    for (const offer of offers) {
      pool = addResources(pool, offerOrder(allocated(offer.resources, role)));
      this.#removeOffer(offer);
    }
    this.#counters.offersAccepted += offers.length;
    countFor(framework, 'offers/accepted', offers.length);
    for (const operation of operations) {
      countFor(framework, 'operations');
      countFor(framework, `operations/${(operation.type ?? 'UNKNOWN').toLowerCase()}`);
      if (operation.type === 'LAUNCH') pool = this.#launch(framework, agent, role, operation, pool);
      else if (operation.type === 'LAUNCH_GROUP')
        pool = this.#launchGroup(framework, agent, role, operation, pool);
      else this.#unsupportedOperation(framework, operation, agent.id, 'Unsupported operation');
    }
    if (pool.length > 0) {
      this.#allocator.addFilter(
        framework,
        { agentId: agent.id, role, resources: unallocated(pool) },
        refuseMs(accept.filters),
      );
    }
    this.#allocator.schedule();
  }

  /**
   * Reservations, volumes and disks are not supported: an operation with an `id` gets an
   * `OPERATION_ERROR` feedback (as Mesos does for operations it cannot apply), one without is
   * dropped.
   */
  #unsupportedOperation(
    framework: FrameworkEntry,
    operation: mesos.v1.Offer.Operation,
    agentId: string | undefined,
    message: string,
  ): void {
    this.#logger.warn('offer operation dropped', { type: operation.type, message });
    if (operation.id === undefined) return;
    const status: mesos.v1.OperationStatus = {
      operation_id: operation.id,
      state: 'OPERATION_ERROR',
      message,
    };
    if (agentId !== undefined) status.agent_id = { value: agentId };
    this.#send(framework, { type: 'UPDATE_OPERATION_STATUS', update_operation_status: { status } });
  }

  /** No operation with an id is ever pending here: explicit reconciliation answers OPERATION_UNKNOWN. */
  #reconcileOperations(framework: FrameworkEntry, call: mesos.v1.scheduler.Call.ReconcileOperations): void {
    for (const op of call.operations ?? []) {
      const status: mesos.v1.OperationStatus = { operation_id: op.operation_id, state: 'OPERATION_UNKNOWN' };
      if (op.agent_id) status.agent_id = op.agent_id;
      if (op.resource_provider_id) status.resource_provider_id = op.resource_provider_id;
      this.#send(framework, { type: 'UPDATE_OPERATION_STATUS', update_operation_status: { status } });
    }
  }

  #validateOffers(framework: FrameworkEntry, offerIds: readonly string[]): string | undefined {
    if (offerIds.length === 0) return 'No offers specified';
    const seen = new Set<string>();
    for (const id of offerIds) {
      if (seen.has(id)) return `Duplicate offer ${id} in offer list`;
      seen.add(id);
    }
    for (const id of offerIds) {
      const offer = this.#offers.get(id);
      if (!offer) return `Offer ${id} is no longer valid`;
      if (offer.frameworkId !== framework.id) {
        return `Offer ${id} has invalid framework ${offer.frameworkId} while framework ${framework.id} is expected`;
      }
    }
    const offers = offerIds.map((id) => this.#offers.get(id)!);
    const first = offers[0]!;
    for (const offer of offers) {
      if (offer.role !== first.role) {
        return `Aggregated offers must be allocated to the same role. Offer ${offer.id} uses role ${offer.role} but another is allocated to role ${first.role}`;
      }
    }
    for (const offer of offers) {
      if (offer.agentId !== first.agentId) {
        return `Aggregated offers must belong to one single agent. Offer ${offer.id} uses agent ${offer.agentId} and agent ${first.agentId}`;
      }
    }
    const agent = this.#agents.get(first.agentId);
    if (!agent?.connected) return `Offer ${first.id} is no longer valid`;
    return undefined;
  }

  #taskContext(framework: FrameworkEntry, agent: AgentEntry, pending: Set<string>): TaskContext {
    return {
      frameworkId: framework.id,
      agentId: agent.id,
      isDuplicate: (id) => framework.tasks.has(id) || pending.has(id),
      existingExecutor: (id) => agent.executors.get(framework.id)?.get(id)?.info,
    };
  }

  #taskError(
    framework: FrameworkEntry,
    task: mesos.v1.TaskInfo,
    message: string,
    reason: mesos.v1.TaskStatus.Reason,
  ): void {
    this.#masterUpdate(framework, {
      task_id: task.task_id,
      state: 'TASK_ERROR',
      message,
      reason,
      agent_id: task.agent_id,
    });
  }

  /** Normalises an executor the way Mesos does while accepting (framework id, allocation info). */
  #normalizeExecutor(
    framework: FrameworkEntry,
    executor: mesos.v1.ExecutorInfo,
    role: string,
  ): mesos.v1.ExecutorInfo {
    const out: mesos.v1.ExecutorInfo = {
      ...executor,
      framework_id: executor.framework_id ?? { value: framework.id },
    };
    if (executor.resources) out.resources = withAllocation(executor.resources, role);
    return out;
  }

  #launch(
    framework: FrameworkEntry,
    agent: AgentEntry,
    role: string,
    operation: mesos.v1.Offer.Operation,
    pool: Resource[],
  ): Resource[] {
    const tasks = operation.launch?.task_infos ?? [];
    if (operation.id !== undefined) {
      for (const task of tasks) {
        this.#taskError(
          framework,
          task,
          'The `id` field cannot be set on LAUNCH operations',
          'REASON_TASK_INVALID',
        );
      }
      return pool;
    }
    const ctx = this.#taskContext(framework, agent, new Set());
    for (const original of tasks) {
      const task: mesos.v1.TaskInfo = { ...original, resources: withAllocation(original.resources, role) };
      if (task.executor) task.executor = this.#normalizeExecutor(framework, task.executor, role);
      const invalid = validateTask(task, ctx);
      if (invalid) {
        this.#taskError(framework, task, invalid, 'REASON_TASK_INVALID');
        continue;
      }
      const executor = task.executor;
      const newExecutor = executor !== undefined && !ctx.existingExecutor(executor.executor_id.value);
      const required = newExecutor
        ? addResources(task.resources ?? [], executor.resources ?? [])
        : (task.resources ?? []);
      const rest = subtractSafe(pool, required);
      if (!rest) {
        // The error shows the requirement summed (as `addResources` does for a new executor).
        this.#taskError(framework, task, fitError(addResources(required, []), pool), 'REASON_TASK_INVALID');
        continue;
      }
      pool = rest;
      if (executor && newExecutor) this.#addExecutor(framework, agent, executor);
      this.#addTask(framework, agent, task, role, executor?.executor_id.value);
      const request: RunTaskRequest = { framework: framework.info, task };
      if (executor) request.executor = executor;
      this.#agentCall(agent, (api) => api.runTask(request));
    }
    return pool;
  }

  #launchGroup(
    framework: FrameworkEntry,
    agent: AgentEntry,
    role: string,
    operation: mesos.v1.Offer.Operation,
    pool: Resource[],
  ): Resource[] {
    const group = operation.launch_group!;
    const executor = this.#normalizeExecutor(framework, group.executor, role);
    const tasks = (group.task_group.tasks ?? []).map(
      (t): mesos.v1.TaskInfo => ({ ...t, resources: withAllocation(t.resources, role), executor }),
    );
    const fail = (message: string): Resource[] => {
      for (const task of tasks) this.#taskError(framework, task, message, 'REASON_TASK_GROUP_INVALID');
      return pool;
    };
    if (operation.id !== undefined) return fail('The `id` field cannot be set on LAUNCH_GROUP operations');
    if (tasks.length === 0) return fail('Task group cannot be empty');
    const pending = new Set<string>();
    const ctx = this.#taskContext(framework, agent, pending);
    const existing = ctx.existingExecutor(executor.executor_id.value);
    if (!existing) {
      const small = validateGroupExecutorResources(executor);
      if (small) return fail(small);
    }
    const executorProblem = validateExecutor(executor, ctx, 'GROUP');
    if (executorProblem) return fail(executorProblem);
    for (const [i, task] of tasks.entries()) {
      const { executor: _e, ...plain } = task;
      const original = group.task_group.tasks?.[i];
      if (original?.executor) return fail(`Task '${task.task_id.value}' should not have 'ExecutorInfo' set`);
      const invalid = validateTask({ ...plain, command: plain.command ?? {} }, ctx);
      if (invalid) return fail(invalid);
      pending.add(task.task_id.value);
    }
    let required = existing ? [] : (executor.resources ?? []);
    for (const task of tasks) required = addResources(required, task.resources ?? []);
    const rest = subtractSafe(pool, required);
    if (!rest) return fail(fitError(required, pool));
    pool = rest;
    if (!existing) this.#addExecutor(framework, agent, executor);
    for (const task of tasks) this.#addTask(framework, agent, task, role, executor.executor_id.value);
    this.#agentCall(agent, (api) =>
      api.runTask({ framework: framework.info, executor, taskGroup: { tasks } }),
    );
    return pool;
  }

  #addExecutor(framework: FrameworkEntry, agent: AgentEntry, executor: mesos.v1.ExecutorInfo): void {
    let executors = agent.executors.get(framework.id);
    if (!executors) {
      executors = new Map();
      agent.executors.set(framework.id, executors);
    }
    const resources = unallocated(executor.resources ?? []);
    executors.set(executor.executor_id.value, { info: executor, resources });
    agent.used = addResources(agent.used, resources);
  }

  #addTask(
    framework: FrameworkEntry,
    agent: AgentEntry,
    task: mesos.v1.TaskInfo,
    role: string,
    executorId: string | undefined,
  ): void {
    const resources = unallocated(task.resources ?? []);
    const entry: TaskEntry = {
      info: task,
      frameworkId: framework.id,
      agentId: agent.id,
      role,
      state: 'TASK_STAGING',
      statuses: [],
      resources,
      released: false,
    };
    if (executorId !== undefined) entry.executorId = executorId;
    framework.tasks.set(task.task_id.value, entry);
    agent.used = addResources(agent.used, resources);
    this.#counters.tasksLaunched++;
  }

  #releaseUsed(agent: AgentEntry, resources: Resource[]): void {
    try {
      agent.used = subtractResources(agent.used, resources);
    } catch (err) {
      this.#logger.error('resource accounting mismatch', { error: String(err), agentId: agent.id });
    }
  }

  #releaseTask(task: TaskEntry): void {
    if (task.released) return;
    task.released = true;
    const agent = this.#agents.get(task.agentId);
    if (agent) this.#releaseUsed(agent, task.resources);
    this.#allocator.schedule();
  }

  #kill(framework: FrameworkEntry, kill: mesos.v1.scheduler.Call.Kill): void {
    const task = framework.tasks.get(kill.task_id.value);
    if (!task) {
      const item: mesos.v1.scheduler.Call.Reconcile.Task = { task_id: kill.task_id };
      if (kill.agent_id) item.agent_id = kill.agent_id;
      this.#reconcile(framework, [item]);
      return;
    }
    if (kill.agent_id && kill.agent_id.value !== task.agentId) return;
    const agent = this.#agents.get(task.agentId);
    if (agent?.connected) {
      this.#agentCall(agent, (api) => api.killTask(framework.id, task.info.task_id.value, kill.kill_policy));
    } else if (agent) {
      const pending: AgentEntry['pendingKills'][number] = {
        frameworkId: framework.id,
        taskId: task.info.task_id.value,
      };
      if (kill.kill_policy) pending.killPolicy = kill.kill_policy;
      agent.pendingKills.push(pending);
    }
  }

  #acknowledge(framework: FrameworkEntry, ack: mesos.v1.scheduler.Call.Acknowledge): void {
    const agent = this.#agents.get(ack.agent_id.value);
    if (!agent?.connected) return;
    const task = framework.tasks.get(ack.task_id.value);
    if (
      task &&
      task.agentId === agent.id &&
      task.statusUpdateState !== undefined &&
      isTerminalTaskState(task.statusUpdateState) &&
      sameBytes(task.statusUpdateUuid, ack.uuid)
    ) {
      this.#forgetTask(framework, task);
    }
    this.#agentCall(agent, (api) => api.acknowledge(framework.id, ack.task_id.value, ack.uuid));
  }

  #forgetTask(framework: FrameworkEntry, task: TaskEntry): void {
    this.#releaseTask(task);
    framework.tasks.delete(task.info.task_id.value);
    framework.completedTasks.push(task);
    if (framework.completedTasks.length > 1000) framework.completedTasks.shift();
  }

  #reconcile(framework: FrameworkEntry, items: readonly mesos.v1.scheduler.Call.Reconcile.Task[]): void {
    const partitionAware = hasCapability(framework.info, 'PARTITION_AWARE');
    if (items.length === 0) {
      for (const task of framework.tasks.values()) this.#reconcileKnown(framework, task);
      return;
    }
    for (const item of items) {
      const task = framework.tasks.get(item.task_id.value);
      if (task && (item.agent_id === undefined || item.agent_id.value === task.agentId)) {
        this.#reconcileKnown(framework, task);
        continue;
      }
      const agentKnown = item.agent_id !== undefined && this.#agents.has(item.agent_id.value);
      const status: Omit<TaskStatus, 'source' | 'timestamp'> & { reason: mesos.v1.TaskStatus.Reason } = {
        task_id: item.task_id,
        state: agentKnown
          ? partitionAware
            ? 'TASK_GONE'
            : 'TASK_LOST'
          : partitionAware
            ? 'TASK_UNKNOWN'
            : 'TASK_LOST',
        message: agentKnown
          ? 'Reconciliation: Task is unknown to the agent'
          : 'Reconciliation: Task is unknown',
        reason: 'REASON_RECONCILIATION',
      };
      if (item.agent_id) status.agent_id = item.agent_id;
      this.#masterUpdate(framework, status);
    }
  }

  #reconcileKnown(framework: FrameworkEntry, task: TaskEntry): void {
    const status: Omit<TaskStatus, 'source' | 'timestamp'> & { reason: mesos.v1.TaskStatus.Reason } = {
      task_id: task.info.task_id,
      state: task.statusUpdateState ?? task.state,
      message: 'Reconciliation: Latest task state',
      reason: 'REASON_RECONCILIATION',
      agent_id: { value: task.agentId },
    };
    if (task.executorId !== undefined) status.executor_id = { value: task.executorId };
    const last = task.lastStatus;
    if (last?.healthy !== undefined) status.healthy = last.healthy;
    if (last?.check_status) status.check_status = last.check_status;
    if (last?.container_status) status.container_status = last.container_status;
    this.#masterUpdate(framework, status);
  }

  #updateFramework(
    framework: FrameworkEntry,
    update: mesos.v1.scheduler.Call.UpdateFramework,
    res: ServerResponse,
    principal: string | undefined,
  ): void {
    const info: mesos.v1.FrameworkInfo = { ...update.framework_info };
    if (principal !== undefined && info.principal === undefined) info.principal = principal;
    const problem = validateFrameworkInfo(info);
    if (problem) {
      sendText(res, 400, `Supplied FrameworkInfo is not valid: ${problem}`);
      return;
    }
    const old = framework.info;
    if ((info.principal ?? '') !== (old.principal ?? '')) {
      sendText(res, 400, "FrameworkInfo update is not valid: Changing framework's principal is not allowed.");
      return;
    }
    if (info.user !== old.user) {
      sendText(
        res,
        400,
        `FrameworkInfo update is not valid: Updating 'FrameworkInfo.user' is unsupported; attempted to update from '${old.user}' to '${info.user}'`,
      );
      return;
    }
    if ((info.checkpoint ?? false) !== (old.checkpoint ?? false)) {
      sendText(
        res,
        400,
        `FrameworkInfo update is not valid: Updating 'FrameworkInfo.checkpoint' is unsupported; attempted to update from '${old.checkpoint ?? false}' to '${info.checkpoint ?? false}'`,
      );
      return;
    }
    const roles = frameworkRoles(info);
    const suppressed = update.suppressed_roles ?? [];
    const suppressedProblem =
      validateSuppressedRoles(suppressed, roles) ?? validateOfferConstraints(update.offer_constraints, roles);
    if (suppressedProblem) {
      sendText(res, 400, `'UpdateFramework' call is not valid: ${suppressedProblem}`);
      return;
    }
    const removedRoles = framework.roles.filter((r) => !roles.includes(r));
    const unsuppressed = [...framework.suppressed].filter((r) => !suppressed.includes(r));
    framework.info = { ...info, id: { value: framework.id } };
    framework.roles = roles;
    framework.suppressed = new Set(suppressed);
    this.#allocator.clearFilters(framework, unsuppressed);
    for (const id of [...framework.offers]) {
      const offer = this.#offers.get(id);
      if (offer && removedRoles.includes(offer.role)) this.#rescindOffer(offer);
    }
    for (const agent of this.#agents.values()) {
      if (agent.connected) this.#agentCall(agent, (api) => api.updateFramework(framework.info));
    }
    this.#allocator.schedule();
    sendOk(res);
  }

  // ---------------------------------------------------------------- MasterApi

  async registerAgent(registration: AgentRegistration, api: AgentApi): Promise<AgentRegistered> {
    validateResources(registration.resources); // throws ResourceError: the registration is refused
    if (this.#stopped) throw new Error('The master is stopped');
    const id = registration.agentId ?? this.#ids.agent();
    const existing = this.#agents.get(id);
    const total = unallocated(registration.resources);
    let agent: AgentEntry;
    if (existing) {
      agent = existing;
      const wasUnreachable = existing.unreachable === true;
      Object.assign(existing, {
        hostname: registration.hostname,
        ip: registration.ip,
        port: registration.port,
        total,
        attributes: registration.attributes ?? [],
        api,
        connected: true,
        unreachable: false,
      });
      if (wasUnreachable) this.#reachableAgain(existing, registration.tasks ?? []);
    } else {
      agent = {
        id,
        hostname: registration.hostname,
        ip: registration.ip,
        port: registration.port,
        total,
        attributes: registration.attributes ?? [],
        api,
        used: [],
        offered: [],
        executors: new Map(),
        pendingKills: [],
        connected: true,
        registeredTime: this.#now(),
      };
      this.#agents.set(id, agent);
      // An agent this master has never seen, with an id: the master restarted (it has no
      // registry) and learns the agent's frameworks, executors and tasks from it.
      if (registration.agentId !== undefined) this.#adoptAgentState(agent, registration);
    }
    // As Mesos does on re-registration: tell the agent about every subscribed framework (so it
    // resends pending updates) and re-send kills that arrived while it was away.
    if (existing || registration.agentId !== undefined) {
      for (const fw of this.#frameworks.values()) {
        if (fw.subscription) this.#agentCall(agent, (a) => a.updateFramework(fw.info));
      }
    }
    const kills = agent.pendingKills.splice(0);
    for (const k of kills) this.#agentCall(agent, (a) => a.killTask(k.frameworkId, k.taskId, k.killPolicy));
    // Frameworks removed while the agent was away (TEARDOWN, failover timeout): it shuts down
    // what it still runs for them, as Mesos' master tells a re-registering agent.
    const removed = new Set(
      [
        ...(registration.frameworks ?? []).map((f) => f.id?.value),
        ...(registration.tasks ?? []).map((t) => t.frameworkId),
      ].filter((id): id is string => id !== undefined && this.#completed.has(id)),
    );
    for (const id of removed) this.#agentCall(agent, (a) => a.shutdownFramework(id));
    this.#clearReregisterTimer(agent);
    this.#startHealthCheck(agent);
    this.#logger.info('agent registered', { agentId: id, reregistered: registration.agentId !== undefined });
    this.#allocator.schedule();
    return { agentId: id, masterInfo: this.masterInfo };
  }

  /** Master failover: rebuilds frameworks, executors and tasks from a re-registering agent. */
  #adoptAgentState(agent: AgentEntry, registration: AgentRegistration): void {
    for (const info of registration.frameworks ?? []) {
      const id = info.id?.value;
      if (!id || this.#frameworks.has(id) || this.#completed.has(id)) continue;
      this.#frameworks.set(id, {
        id,
        info,
        roles: frameworkRoles(info),
        suppressed: new Set(),
        tasks: new Map(),
        completedTasks: [],
        offers: new Set(),
        filters: [],
        registeredTime: this.#now(),
        recovered: true,
      });
    }
    for (const { frameworkId, info } of registration.executors ?? []) {
      const framework = this.#frameworks.get(frameworkId);
      if (!framework || agent.executors.get(frameworkId)?.has(info.executor_id.value)) continue;
      this.#addExecutor(framework, agent, info);
    }
    for (const task of registration.tasks ?? []) {
      const framework = this.#frameworks.get(task.frameworkId);
      if (!framework || framework.tasks.has(task.info.task_id.value)) continue;
      const resources = unallocated(task.info.resources ?? []);
      const terminal = isTerminalTaskState(task.state);
      const entry: TaskEntry = {
        info: task.info,
        frameworkId: framework.id,
        agentId: agent.id,
        role: task.info.resources?.[0]?.allocation_info?.role ?? framework.roles[0] ?? '*',
        state: task.state,
        statuses: [],
        resources,
        released: terminal,
      };
      if (task.executorId !== undefined) entry.executorId = task.executorId;
      framework.tasks.set(task.info.task_id.value, entry);
      if (!terminal) agent.used = addResources(agent.used, resources);
    }
  }

  /**
   * An unreachable agent came back: its tasks are running again (for frameworks with and
   * without PARTITION_AWARE, as since Mesos 1.5); each framework gets the task's state with
   * `REASON_AGENT_REREGISTERED`.
   */
  #reachableAgain(agent: AgentEntry, reported: readonly AgentTask[]): void {
    const byKey = new Map(reported.map((t) => [`${t.frameworkId}\u0000${t.info.task_id.value}`, t]));
    for (const framework of this.#frameworks.values()) {
      for (const task of [...framework.tasks.values()]) {
        if (task.agentId !== agent.id || !task.unreachable) continue;
        task.unreachable = false;
        const now = byKey.get(`${framework.id}\u0000${task.info.task_id.value}`);
        const state =
          now?.state ?? (hasCapability(framework.info, 'PARTITION_AWARE') ? 'TASK_GONE' : 'TASK_LOST');
        task.state = state;
        task.statusUpdateState = state;
        task.statuses.push({ state, timestamp: this.#timestamp() });
        if (now && !isTerminalTaskState(state) && task.released) {
          task.released = false;
          agent.used = addResources(agent.used, task.resources);
        }
        this.#masterUpdate(framework, {
          task_id: task.info.task_id,
          state,
          message: now ? 'Agent reregistered' : 'Task is unknown to the agent',
          reason: 'REASON_AGENT_REREGISTERED',
          agent_id: { value: agent.id },
          ...(task.executorId !== undefined ? { executor_id: { value: task.executorId } } : {}),
        });
        if (isTerminalTaskState(state)) this.#forgetTask(framework, task);
      }
    }
  }

  #startHealthCheck(agent: AgentEntry): void {
    clearInterval(agent.pingTimer);
    agent.pinged = false;
    agent.pingTimeouts = 0;
    const ping = (): void => {
      if (agent.pinged) {
        agent.pingTimeouts = (agent.pingTimeouts ?? 0) + 1;
        if (agent.pingTimeouts >= (this.#options.maxAgentPingTimeouts ?? 5) && !agent.unreachable) {
          this.#markUnreachable(agent);
        }
      }
      agent.pinged = true;
      this.#agentCall(agent, (a) => a.ping());
    };
    // The first ping goes out after one interval: the agent learns its id only once this
    // registration returns.
    agent.pingTimer = setInterval(ping, this.#options.agentPingTimeoutMs ?? 15_000);
    agent.pingTimer.unref();
  }

  /**
   * The health check timed out (Mesos' `markUnreachable`): offers are rescinded, each task goes
   * TASK_UNREACHABLE (PARTITION_AWARE frameworks) or TASK_LOST, `REASON_AGENT_REMOVED`, with
   * `unreachable_time`; the task stays known, for the agent may come back.
   */
  #markUnreachable(agent: AgentEntry): void {
    this.#logger.info('agent unreachable', { agentId: agent.id });
    agent.connected = false;
    agent.unreachable = true;
    for (const offer of [...this.#offers.values()]) {
      if (offer.agentId === agent.id) this.#rescindOffer(offer);
    }
    const nanos = BigInt(this.#now()) * 1_000_000n;
    for (const framework of this.#frameworks.values()) {
      const state = hasCapability(framework.info, 'PARTITION_AWARE') ? 'TASK_UNREACHABLE' : 'TASK_LOST';
      for (const task of framework.tasks.values()) {
        if (task.agentId !== agent.id || isTerminalTaskState(task.state)) continue;
        task.unreachable = true;
        task.state = state;
        task.statusUpdateState = state;
        task.statuses.push({ state, timestamp: this.#timestamp() });
        this.#releaseTask(task);
        this.#masterUpdate(framework, {
          task_id: task.info.task_id,
          state,
          message: 'Agent is unreachable: health check timed out',
          reason: 'REASON_AGENT_REMOVED',
          agent_id: { value: agent.id },
          ...(task.executorId !== undefined ? { executor_id: { value: task.executorId } } : {}),
          unreachable_time: { nanoseconds: nanos },
        });
      }
    }
  }

  #clearReregisterTimer(agent: AgentEntry): void {
    clearTimeout(agent.reregisterTimer);
    agent.reregisterTimer = undefined;
  }

  pong(agentId: string): void {
    if (this.#stopped) return;
    const agent = this.#agents.get(agentId);
    if (!agent) return;
    agent.pinged = false;
    agent.pingTimeouts = 0;
  }

  statusUpdate(agentId: string, update: StatusUpdateMessage): void {
    if (this.#stopped) return;
    const framework = this.#frameworks.get(update.frameworkId);
    if (!framework) {
      this.#logger.debug('status update for unknown framework dropped', { frameworkId: update.frameworkId });
      return;
    }
    const status = update.status;
    const found = framework.tasks.get(status.task_id.value);
    // An older update arriving after a terminal one (as Mesos' master, it is still forwarded,
    // but the task's state does not go back: its acknowledgement must still forget the task).
    const outOfOrder =
      found !== undefined && isTerminalTaskState(found.state) && !isTerminalTaskState(status.state);
    if (outOfOrder)
      this.#logger.warn('out-of-order status update', { taskId: status.task_id.value, state: status.state });
    const task = outOfOrder ? undefined : found;
    if (task && task.agentId === agentId) {
      // The task's state is that of the update being forwarded, not the agent's newer
      // `latestState`: in capture 11/13 a task whose TASK_FINISHED waited behind an unacked
      // TASK_RUNNING stayed TASK_RUNNING in /master/state, its resources still in use.
      task.state = status.state;
      // Not the status itself: it may hold large `data`.
      task.lastStatus = {
        healthy: status.healthy,
        check_status: status.check_status,
        container_status: status.container_status,
      };
      if (task.statuses.at(-1)?.state !== status.state) {
        task.statuses.push({ state: status.state, timestamp: status.timestamp ?? this.#timestamp() });
      }
      if (isTerminalTaskState(status.state) || status.state === 'TASK_UNREACHABLE') {
        if (!task.released && isTerminalTaskState(status.state)) {
          countFor(framework, `tasks/terminal/${status.state.toLowerCase()}`);
          this.#logger.info('task terminal', {
            frameworkId: framework.id,
            taskId: status.task_id.value,
            agentId,
            state: status.state,
            ...(status.reason ? { reason: status.reason } : {}),
          });
        }
        this.#releaseTask(task);
      }
    }
    if (!framework.subscription) return;
    if (task && task.agentId === agentId) {
      task.statusUpdateState = status.state;
      if (status.uuid) task.statusUpdateUuid = status.uuid;
    }
    this.#send(framework, { type: 'UPDATE', update: { status } });
    if (task && isTerminalTaskState(status.state) && status.uuid === undefined)
      this.#forgetTask(framework, task);
  }

  executorMessage(agentId: string, frameworkId: string, executorId: string, data: Uint8Array): void {
    if (this.#stopped) return;
    const framework = this.#frameworks.get(frameworkId);
    if (!framework) return;
    this.#send(framework, {
      type: 'MESSAGE',
      message: { agent_id: { value: agentId }, executor_id: { value: executorId }, data },
    });
  }

  exitedExecutor(agentId: string, frameworkId: string, executorId: string, status: number): void {
    if (this.#stopped) return;
    const agent = this.#agents.get(agentId);
    const executors = agent?.executors.get(frameworkId);
    const executor = executors?.get(executorId);
    if (agent && executors && executor) {
      executors.delete(executorId);
      if (executors.size === 0) agent.executors.delete(frameworkId);
      this.#releaseUsed(agent, executor.resources);
      this.#allocator.schedule();
    }
    const framework = this.#frameworks.get(frameworkId);
    if (!framework) return;
    this.#send(framework, {
      type: 'FAILURE',
      failure: { agent_id: { value: agentId }, executor_id: { value: executorId }, status },
    });
  }

  agentGone(agentId: string): void {
    const agent = this.#agents.get(agentId);
    if (!agent || this.#stopped) return;
    this.#logger.info('agent gone', { agentId });
    agent.connected = false;
    clearInterval(agent.pingTimer);
    // Mesos' `--agent_reregister_timeout`: an agent that does not come back in time is marked
    // unreachable, its tasks TASK_UNREACHABLE / TASK_LOST.
    this.#clearReregisterTimer(agent);
    agent.reregisterTimer = setTimeout(() => {
      agent.reregisterTimer = undefined;
      if (!agent.connected && !agent.unreachable && !this.#stopped) this.#markUnreachable(agent);
    }, this.#options.agentReregisterTimeoutMs ?? 600_000);
    agent.reregisterTimer.unref();
    for (const offer of [...this.#offers.values()]) {
      if (offer.agentId === agentId) this.#rescindOffer(offer);
    }
    // Mesos removes the frameworks without checkpointing from a disconnected agent: their
    // tasks are lost (TASK_LOST whatever the capabilities, SOURCE_MASTER, no uuid).
    for (const framework of this.#frameworks.values()) {
      if (framework.info.checkpoint === true) continue;
      for (const task of [...framework.tasks.values()]) {
        if (task.agentId !== agentId) continue;
        if (!isTerminalTaskState(task.state)) {
          task.state = 'TASK_LOST';
          task.statuses.push({ state: 'TASK_LOST', timestamp: this.#timestamp() });
          this.#masterUpdate(framework, {
            task_id: task.info.task_id,
            state: 'TASK_LOST',
            message: `Agent ${agent.hostname} disconnected`,
            reason: 'REASON_AGENT_DISCONNECTED',
            agent_id: { value: agentId },
            ...(task.executorId !== undefined ? { executor_id: { value: task.executorId } } : {}),
          });
        }
        this.#forgetTask(framework, task);
      }
      const executors = agent.executors.get(framework.id);
      if (executors) {
        for (const executor of executors.values()) this.#releaseUsed(agent, executor.resources);
        agent.executors.delete(framework.id);
      }
    }
    this.#allocator.schedule();
  }
}

function checkOptions(options: LocalMasterOptions): void {
  const positive = (name: string, value: number | undefined, allowZero: boolean): void => {
    if (value === undefined) return;
    if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
      throw new InvalidOptionsError(
        `${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${value}`,
      );
    }
  };
  positive('heartbeatIntervalMs', options.heartbeatIntervalMs, false);
  positive('agentPingTimeoutMs', options.agentPingTimeoutMs, false);
  positive('agentReregisterTimeoutMs', options.agentReregisterTimeoutMs, false);
  const max = options.maxAgentPingTimeouts;
  if (max !== undefined && (!Number.isSafeInteger(max) || max < 1)) {
    throw new InvalidOptionsError(`maxAgentPingTimeouts must be a positive integer, got ${max}`);
  }
  positive('allocationIntervalMs', options.allocationIntervalMs, true);
  positive('offerTimeoutMs', options.offerTimeoutMs, false);
  const port = options.port;
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new InvalidOptionsError(`port must be an integer in [0, 65535], got ${port}`);
  }
}

function tasksOf(operations: readonly mesos.v1.Offer.Operation[]): mesos.v1.TaskInfo[] {
  return operations.flatMap((op) => {
    if (op.type === 'LAUNCH') return op.launch?.task_infos ?? [];
    if (op.type === 'LAUNCH_GROUP') return op.launch_group?.task_group.tasks ?? [];
    return [];
  });
}

/** `pool - required`, or undefined when `pool` does not contain `required`. */
function subtractSafe(pool: readonly Resource[], required: readonly Resource[]): Resource[] | undefined {
  try {
    return subtractResources(pool, required);
  } catch {
    return undefined;
  }
}
