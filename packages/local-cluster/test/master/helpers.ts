/**
 * Test helpers for the master: a fake in-process agent that records what the master asks of it,
 * raw HTTP helpers for scheduler calls, and an event stream reader that waits for events
 * without sleeping.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import {
  type mesos,
  parseResources,
  RecordIODecoder,
  type SchedulerCall,
  type SchedulerEvent,
  schedulerCall,
  schedulerEvent,
} from '@mesoskit/protocol';
import type { AgentApi, RunTaskRequest } from '../../src/link.js';
import { LocalMaster, type LocalMasterOptions } from '../../src/master/index.js';

export type Encoding = 'json' | 'protobuf';

/** One recorded call of the master to the fake agent. */
export type AgentCall =
  | { kind: 'runTask'; request: RunTaskRequest }
  | { kind: 'killTask'; frameworkId: string; taskId: string; killPolicy?: mesos.v1.KillPolicy }
  | { kind: 'shutdownExecutor'; frameworkId: string; executorId: string }
  | { kind: 'shutdownFramework'; frameworkId: string }
  | { kind: 'acknowledge'; frameworkId: string; taskId: string; uuid: Uint8Array }
  | { kind: 'frameworkMessage'; frameworkId: string; executorId: string; data: Uint8Array }
  | { kind: 'updateFramework'; framework: mesos.v1.FrameworkInfo };

/** An agent that only records calls; tests drive status updates through `master.statusUpdate`. */
export class FakeAgent implements AgentApi {
  readonly calls: AgentCall[] = [];
  agentId = '';
  #waiters: (() => void)[] = [];

  static async register(master: LocalMaster, resources = 'cpus:2;mem:2048;disk:4096;ports:[31000-32000]') {
    const agent = new FakeAgent();
    const registered = await master.registerAgent(
      { hostname: 'localhost', ip: '127.0.0.1', port: 5051, resources: parseResources(resources) },
      agent,
    );
    agent.agentId = registered.agentId;
    return agent;
  }

  /** Health-check pings are not recorded; this agent never answers them (tests are shorter than 75 s). */
  ping(): void {}

  #record(call: AgentCall): void {
    this.calls.push(call);
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Waits for a recorded call of the given kind matching `pred`. */
  async waitFor<K extends AgentCall['kind']>(
    kind: K,
    pred: (c: Extract<AgentCall, { kind: K }>) => boolean = () => true,
    timeoutMs = 2000,
  ): Promise<Extract<AgentCall, { kind: K }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.calls.find(
        (c): c is Extract<AgentCall, { kind: K }> => c.kind === kind && pred(c as never),
      );
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `agent call '${kind}' did not arrive; got: ${this.calls.map((c) => c.kind).join(', ')}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  runTask(request: RunTaskRequest): void {
    this.#record({ kind: 'runTask', request });
  }
  killTask(frameworkId: string, taskId: string, killPolicy?: mesos.v1.KillPolicy): void {
    this.#record({ kind: 'killTask', frameworkId, taskId, ...(killPolicy ? { killPolicy } : {}) });
  }
  shutdownExecutor(frameworkId: string, executorId: string): void {
    this.#record({ kind: 'shutdownExecutor', frameworkId, executorId });
  }
  shutdownFramework(frameworkId: string): void {
    this.#record({ kind: 'shutdownFramework', frameworkId });
  }
  acknowledge(frameworkId: string, taskId: string, uuid: Uint8Array): void {
    this.#record({ kind: 'acknowledge', frameworkId, taskId, uuid });
  }
  frameworkMessage(frameworkId: string, executorId: string, data: Uint8Array): void {
    this.#record({ kind: 'frameworkMessage', frameworkId, executorId, data });
  }
  updateFramework(framework: mesos.v1.FrameworkInfo): void {
    this.#record({ kind: 'updateFramework', framework });
  }
}

/** Starts a master tuned for tests (fast allocation, silent). */
export function startMaster(options: LocalMasterOptions = {}): Promise<LocalMaster> {
  return LocalMaster.start({ allocationIntervalMs: 10, ...options });
}

export interface HttpResult {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A raw HTTP request; resolves with status, headers and the whole body as text. */
export function rawRequest(
  url: string,
  options: {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: Uint8Array | string;
  } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(options.path ?? '/api/v1/scheduler', url);
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: options.method ?? 'POST',
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Posts a scheduler call (JSON unless said otherwise) with the stream id. */
export function call(
  url: string,
  body: SchedulerCall,
  options: { streamId?: string; encoding?: Encoding; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const encoding = options.encoding ?? 'json';
  const headers: Record<string, string> = {
    'Content-Type': encoding === 'json' ? 'application/json' : 'application/x-protobuf',
    ...options.headers,
  };
  if (options.streamId) headers['Mesos-Stream-Id'] = options.streamId;
  return rawRequest(url, { headers, body: schedulerCall.encode(body, encoding) });
}

/** A subscription: the response head and a reader of its events. */
export class EventStream {
  readonly events: SchedulerEvent[] = [];
  readonly chunks: Buffer[] = [];
  status = 0;
  headers: IncomingMessage['headers'] = {};
  body = '';
  ended = false;
  /** Events not yet returned by `next()`, in arrival order. */
  #pending: SchedulerEvent[] = [];
  #waiters: (() => void)[] = [];
  #decoder = new RecordIODecoder();
  #destroy: () => void = () => {};
  readonly encoding: Encoding;

  constructor(encoding: Encoding) {
    this.encoding = encoding;
  }

  get streamId(): string {
    return String(this.headers['mesos-stream-id'] ?? '');
  }

  /** The framework id from the SUBSCRIBED event (after it arrived). */
  get frameworkId(): string {
    const sub = this.events.find((e) => e.type === 'SUBSCRIBED');
    if (!sub) throw new Error('no SUBSCRIBED event yet');
    return sub.subscribed!.framework_id.value;
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Opens the stream; resolves once the response head arrived. */
  open(url: string, body: SchedulerCall | Uint8Array, headers: Record<string, string> = {}): Promise<this> {
    return new Promise((resolve, reject) => {
      const u = new URL('/api/v1/scheduler', url);
      const bytes = body instanceof Uint8Array ? body : schedulerCall.encode(body, this.encoding);
      const req = httpRequest(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          agent: false,
          headers: {
            'Content-Type': this.encoding === 'json' ? 'application/json' : 'application/x-protobuf',
            Accept: this.encoding === 'json' ? 'application/json' : 'application/x-protobuf',
            ...headers,
          },
        },
        (res) => {
          this.status = res.statusCode ?? 0;
          this.headers = res.headers;
          res.on('data', (chunk: Buffer) => {
            this.chunks.push(chunk);
            if (this.status !== 200) {
              this.body += chunk.toString('utf8');
              return;
            }
            const encoding = res.headers['content-type'] === 'application/x-protobuf' ? 'protobuf' : 'json';
            for (const record of this.#decoder.push(chunk)) {
              const event = schedulerEvent.decode(record, encoding);
              this.events.push(event);
              this.#pending.push(event);
            }
            this.#wake();
          });
          res.on('end', () => {
            this.ended = true;
            this.#wake();
          });
          res.on('error', () => {});
          res.on('close', () => {
            this.ended = true;
            this.#wake();
          });
          resolve(this);
        },
      );
      this.#destroy = () => req.destroy();
      req.on('error', (err) => {
        this.ended = true;
        this.#wake();
        reject(err);
      });
      req.end(bytes);
    });
  }

  /**
   * The oldest event not returned yet that matches `pred` (other events stay available to later
   * calls). Rejects after `timeoutMs` saying what did not arrive.
   */
  async next(what: string | ((e: SchedulerEvent) => boolean), timeoutMs = 2000): Promise<SchedulerEvent> {
    const pred = typeof what === 'string' ? (e: SchedulerEvent) => e.type === what : what;
    const label = typeof what === 'string' ? what : 'a matching event';
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.#pending.findIndex(pred);
      if (i >= 0) return this.#pending.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0 || this.ended) {
        throw new Error(
          `${label} did not arrive within ${timeoutMs} ms (stream ${this.ended ? 'ended' : 'open'}); unread: ${this.#pending
            .map((e) => e.type)
            .join(', ')}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The next UPDATE event for a task. */
  async update(taskId: string, timeoutMs = 2000): Promise<mesos.v1.TaskStatus> {
    const e = await this.next(
      (x) => x.type === 'UPDATE' && x.update?.status.task_id.value === taskId,
      timeoutMs,
    );
    return e.update!.status;
  }

  /** The next OFFERS event's offers. */
  async offers(timeoutMs = 2000): Promise<mesos.v1.Offer[]> {
    const e = await this.next('OFFERS', timeoutMs);
    return e.offers?.offers ?? [];
  }

  /** Resolves when the server ended the response. */
  async end(timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`stream did not end within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Asserts that no event matching `pred` arrives within `ms` (a bounded wait, used sparingly). */
  async none(pred: (e: SchedulerEvent) => boolean, ms: number): Promise<void> {
    const start = this.events.length;
    await new Promise((r) => setTimeout(r, ms));
    const hit = this.events.slice(start).find(pred);
    if (hit) throw new Error(`unexpected event ${hit.type}`);
  }

  /** Drops the connection (a scheduler crash). */
  close(): void {
    this.#destroy();
  }
}

/** A FrameworkInfo with sensible defaults. */
export function frameworkInfo(extra: Partial<mesos.v1.FrameworkInfo> = {}): mesos.v1.FrameworkInfo {
  return { user: 'root', name: 'test', ...extra };
}

/** Subscribes a framework and waits for SUBSCRIBED. */
export async function subscribe(
  url: string,
  info: mesos.v1.FrameworkInfo = frameworkInfo(),
  options: { encoding?: Encoding; frameworkId?: string; suppressedRoles?: string[] } = {},
): Promise<EventStream> {
  const stream = new EventStream(options.encoding ?? 'json');
  const body: SchedulerCall = { type: 'SUBSCRIBE', subscribe: { framework_info: info } };
  if (options.frameworkId) {
    body.framework_id = { value: options.frameworkId };
    body.subscribe!.framework_info = { ...info, id: { value: options.frameworkId } };
  }
  if (options.suppressedRoles) body.subscribe!.suppressed_roles = options.suppressedRoles;
  await stream.open(url, body);
  if (stream.status === 200) await stream.next((e) => e.type === 'SUBSCRIBED' || e.type === 'ERROR');
  return stream;
}

/** A scheduler session: a subscription plus typed helpers for calls. */
export class Session {
  constructor(
    readonly url: string,
    readonly stream: EventStream,
  ) {}

  get frameworkId(): string {
    return this.stream.frameworkId;
  }

  call(body: Omit<SchedulerCall, 'framework_id'>, encoding: Encoding = 'json'): Promise<HttpResult> {
    return call(
      this.url,
      { framework_id: { value: this.frameworkId }, ...body },
      { streamId: this.stream.streamId, encoding },
    );
  }

  accept(offerIds: string[], operations: mesos.v1.Offer.Operation[], filters?: mesos.v1.Filters) {
    return this.call({
      type: 'ACCEPT',
      accept: {
        offer_ids: offerIds.map((value) => ({ value })),
        operations,
        ...(filters ? { filters } : {}),
      },
    });
  }

  launch(offerId: string, tasks: mesos.v1.TaskInfo[], filters?: mesos.v1.Filters) {
    return this.accept([offerId], [{ type: 'LAUNCH', launch: { task_infos: tasks } }], filters);
  }

  decline(offerIds: string[], filters?: mesos.v1.Filters) {
    return this.call({
      type: 'DECLINE',
      decline: { offer_ids: offerIds.map((value) => ({ value })), ...(filters ? { filters } : {}) },
    });
  }
}

export async function session(
  url: string,
  info?: mesos.v1.FrameworkInfo,
  options?: Parameters<typeof subscribe>[2],
): Promise<Session> {
  return new Session(url, await subscribe(url, info, options));
}

/** A command task using `resources` on `agentId`. */
export function commandTask(id: string, agentId: string, resources = 'cpus:0.1;mem:32'): mesos.v1.TaskInfo {
  return {
    name: `task ${id}`,
    task_id: { value: id },
    agent_id: { value: agentId },
    resources: parseResources(resources),
    command: { shell: true, value: 'sleep 100' },
  };
}

/** A fresh RFC 4122 v4 uuid as bytes (what agents put into `TaskStatus.uuid`). */
export function uuidBytes(): Uint8Array {
  const hex = crypto.randomUUID().replaceAll('-', '');
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** The real-Mesos captures, as copied into the protocol package (a user's clone has them). */
export const CAPTURES = fileURLToPath(
  new URL('../../../protocol/test/fixtures/real-mesos/', import.meta.url),
);

/** The records of a captured JSON stream (`<scenario>/<name>.stream.bin`), as text. */
export function capturedRecords(scenario: string, name: string): string[] {
  const bytes = readFileSync(`${CAPTURES}${scenario}/${name}.stream.bin`);
  return new RecordIODecoder().push(bytes).map((r) => Buffer.from(r).toString('utf8'));
}
