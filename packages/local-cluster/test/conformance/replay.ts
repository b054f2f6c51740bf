/**
 * Replays a captured real-Mesos scenario against a local cluster and compares what comes back.
 *
 * - Requests are sent in capture order, with the ids that vary rewritten: the framework id
 *   (from SUBSCRIBED), the agent id and offer ids (from the OFFERS events the local master
 *   sends), stream ids (from the response heads), and acknowledged uuids (the captured uuid is
 *   looked up in the captured stream, and the local UPDATE with the same task and state gives
 *   the local uuid).
 * - Before each request the replay waits (with a timeout naming what did not arrive) until
 *   every local stream has seen as many agent/executor-driven events (UPDATE from an executor
 *   or agent, FAILURE, MESSAGE, ERROR) as the capture had before that request, per
 *   `timeline.txt`. Offers are waited for when a request needs one. There are no sleeps.
 * - Responses are compared on status, the headers that matter and the body; streams on their
 *   head and their events, normalised only where the capture README says values vary.
 */
import http from 'node:http';
import { RecordIODecoder, type SchedulerEvent, schedulerCall, schedulerEvent } from '@mesoskit/protocol';
import { expect } from 'vitest';
import {
  type CapturedRequest,
  hasFixture,
  readBody,
  readHead,
  readRecords,
  readRequest,
  readTimeline,
  requestBody,
  requestNames,
  type TimelineEntry,
} from './capture.js';

export type Encoding = 'json' | 'protobuf';

const JSON_TYPE = 'application/json';
const PROTOBUF_TYPE = 'application/x-protobuf';

function encodingOf(contentType: string | undefined): Encoding {
  return contentType === PROTOBUF_TYPE ? 'protobuf' : 'json';
}

/** A record as plain JSON in Mesos' JSON form (protobuf records are decoded and re-rendered). */
export function recordJson(record: Uint8Array, encoding: Encoding): Record<string, unknown> {
  if (encoding === 'json') return JSON.parse(Buffer.from(record).toString('utf8')) as Record<string, unknown>;
  const event = schedulerEvent.decode(record, 'protobuf');
  return JSON.parse(Buffer.from(schedulerEvent.encode(event, 'json')).toString('utf8')) as Record<
    string,
    unknown
  >;
}

/** Waits until `probe` returns a value; each wake-up is a `notify()` of the source. */
class Waiters {
  #list: (() => void)[] = [];
  notify(): void {
    for (const w of this.#list.splice(0)) w();
  }
  async until<T>(
    what: string,
    probe: () => T | undefined,
    timeoutMs: number,
    detail: () => string,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v !== undefined) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what} did not arrive within ${timeoutMs} ms; ${detail()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#list.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

/** A live scheduler subscription: head, raw records, decoded events. */
export class LiveStream {
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  rawHeaders: string[] = [];
  body = Buffer.alloc(0);
  readonly records: Uint8Array[] = [];
  readonly events: SchedulerEvent[] = [];
  /** `Date.now()` at the arrival of each event. */
  readonly times: number[] = [];
  ended = false;
  encoding: Encoding = 'json';
  readonly waiters = new Waiters();
  #req: http.ClientRequest | undefined;

  constructor(readonly label: string) {}

  get streamId(): string {
    return String(this.headers['mesos-stream-id'] ?? '');
  }

  open(url: string, path: string, headers: Record<string, string>, body: Uint8Array): Promise<this> {
    return new Promise((resolve, reject) => {
      const u = new URL(path, url);
      const req = http.request(
        { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: false, headers },
        (res) => {
          this.status = res.statusCode ?? 0;
          this.headers = res.headers;
          this.rawHeaders = res.rawHeaders;
          this.encoding = encodingOf(res.headers['content-type']);
          const decoder = new RecordIODecoder();
          res.on('data', (chunk: Buffer) => {
            if (this.status !== 200) {
              this.body = Buffer.concat([this.body, chunk]);
              return;
            }
            for (const record of decoder.push(chunk)) {
              this.records.push(record);
              this.events.push(schedulerEvent.decode(record, this.encoding));
              this.times.push(Date.now());
            }
            this.waiters.notify();
          });
          const done = (): void => {
            this.ended = true;
            this.waiters.notify();
          };
          res.on('end', done);
          res.on('close', done);
          res.on('error', () => {});
          resolve(this);
        },
      );
      this.#req = req;
      req.on('error', (err) => {
        this.ended = true;
        this.waiters.notify();
        reject(err);
      });
      req.end(body);
    });
  }

  describe(): string {
    const show = (e: SchedulerEvent): string => {
      const s = e.update?.status;
      return s?.source === 'SOURCE_MASTER' && s.message ? `${summary(e)} '${s.message}'` : summary(e);
    };
    return `stream '${this.label}' (${this.ended ? 'ended' : 'open'}) has: ${this.events.map(show).join(', ') || 'nothing'}`;
  }

  wait<T>(what: string, probe: () => T | undefined, timeoutMs = 5000): Promise<T> {
    return this.waiters.until(`${what} on stream '${this.label}'`, probe, timeoutMs, () => this.describe());
  }

  /** Waits for the end of the response. */
  end(timeoutMs = 5000): Promise<true> {
    return this.wait('the end of the stream', () => (this.ended ? true : undefined), timeoutMs);
  }

  close(): void {
    this.#req?.destroy();
  }

  json(i: number): Record<string, unknown> {
    return recordJson(this.records[i]!, this.encoding);
  }
}

export function summary(e: SchedulerEvent): string {
  if (e.type === 'UPDATE') {
    const s = e.update!.status;
    return `UPDATE(${s.task_id.value} ${s.state}${s.reason ? ` ${s.reason}` : ''})`;
  }
  return e.type ?? '?';
}

/** Events the replay waits for before a request: those not caused by the request itself. */
function isDriven(e: SchedulerEvent): boolean {
  if (e.type === 'UPDATE') return e.update!.status.source !== 'SOURCE_MASTER';
  return e.type === 'FAILURE' || e.type === 'MESSAGE' || e.type === 'ERROR';
}

/** Events compared in sequence (offers and heartbeats depend on timing; compared on their own). */
export function isCompared(e: SchedulerEvent): boolean {
  return e.type !== 'HEARTBEAT' && e.type !== 'OFFERS';
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/**
 * Replaces what the capture README lists as varying: uuids, timestamps, container ids,
 * executor pids, offer ids (their counters differ with pacing), ports and pids of the master.
 */
export function normalize(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) return value.map((v) => normalize(v));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === 'uuid') out[k] = '<uuid>';
      else if (k === 'timestamp' || k === 'registered_time' || k === 'reregistered_time') out[k] = '<time>';
      else if (k === 'container_id') out[k] = '<container id>';
      else if (k === 'executor_pid') out[k] = '<pid>';
      else out[k] = normalize(v, k);
    }
    return out;
  }
  if (typeof value === 'string') {
    if (key === 'pid' && value.startsWith('master@')) return 'master@<address>';
    return value.replace(new RegExp(`${UUID}-O\\d+`, 'g'), '<offer id>');
  }
  if (typeof value === 'number' && key === 'port') return '<port>';
  return value;
}

/** Every object's keys in order, by path (to compare JSON key order). */
export function keyOrder(value: unknown, path = '$', out: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) keyOrder(v, `${path}[${i}]`, out);
  } else if (value && typeof value === 'object') {
    out.push(`${path}: ${Object.keys(value).join(',')}`);
    for (const [k, v] of Object.entries(value)) keyOrder(v, `${path}.${k}`, out);
  }
  return out;
}

/** A JSON record's text with what varies between runs replaced. */
export function rawNormalize(text: string): string {
  return text
    .replace(/"uuid":"[^"]*"/g, '"uuid":"<uuid>"')
    .replace(/"(timestamp|registered_time|reregistered_time)":[-\d.e+]+/g, '"$1":"<time>"')
    .replace(/"container_id":\{"value":"[^"]*"\}/g, '"container_id":"<container id>"')
    .replace(/"executor_pid":\d+/g, '"executor_pid":"<pid>"')
    .replace(/"port":\d+/g, '"port":"<port>"')
    .replace(new RegExp(`${UUID}-O\\d+`, 'g'), '<offer id>');
}

export interface ReplayOptions {
  /** Extra string rewrites for requests and captured bodies (paths, commands), applied first. */
  rewrite?: [string, string][];
  /** How long to wait for a single event (default 8 s). */
  timeoutMs?: number;
  /** Changes a captured JSON body before it is sent (e.g. a shorter `failover_timeout`). */
  patchRequest?: (name: string, body: Record<string, unknown>) => void;
  /** The agent's base URL, for requests to `/api/v1/executor`. */
  agentUrl?: string;
  /** The heartbeat interval the local cluster runs with, when shortened (Mesos: fixed 15 s). */
  heartbeatSeconds?: number;
}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

/** One replay of a scenario against a running master. */
export class Replay {
  /** Captured value → local value (ids, stream ids, base64 uuids, paths). */
  readonly ids = new Map<string, string>();
  readonly streams = new Map<string, LiveStream>();
  readonly captured = new Map<
    string,
    { encoding: Encoding; records: Uint8Array[]; events: SchedulerEvent[] }
  >();
  readonly #streamLabelById = new Map<string, string>();
  readonly #usedOffers = new Set<string>();
  /** Captured offer id → the local offers that stand for it. */
  readonly #offerGroups = new Map<string, string[]>();
  readonly #timeline: TimelineEntry[];
  readonly #timeoutMs: number;

  constructor(
    readonly scenario: string,
    readonly url: string,
    readonly options: ReplayOptions = {},
  ) {
    this.#timeline = readTimeline(scenario);
    this.#timeoutMs = options.timeoutMs ?? 8000;
    for (const [from, to] of options.rewrite ?? []) this.ids.set(from, to);
  }

  /** Rewrites every captured id (and path) inside a string. */
  map(s: string): string {
    const pairs = [...this.ids].sort((a, b) => b[0].length - a[0].length);
    for (const [from, to] of pairs) if (from && s.includes(from)) s = s.split(from).join(to);
    return s;
  }

  rewrite<T>(value: T): T {
    if (typeof value === 'string') return this.map(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.rewrite(v)) as T;
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.rewrite(v)])) as T;
    }
    return value;
  }

  label(name: string): string {
    return name.replace(/^\d+-/, '');
  }

  stream(label: string): LiveStream {
    const s = this.streams.get(label);
    if (!s) throw new Error(`no live stream '${label}'`);
    return s;
  }

  /** Captured events of a stream, loaded on first use. */
  capturedStream(name: string) {
    const label = this.label(name);
    let c = this.captured.get(label);
    if (!c) {
      const encoding = encodingOf(readHead(this.scenario, name).headers['content-type']);
      const records = readRecords(this.scenario, name);
      c = { encoding, records, events: records.map((r) => schedulerEvent.decode(r, encoding)) };
      this.captured.set(label, c);
    }
    return c;
  }

  /** Waits until every live stream has seen what the capture had seen before request `label`. */
  async #sync(label: string): Promise<void> {
    const at = this.#timeline.findIndex((e) => e.kind === 'request' && e.label === label);
    if (at < 0) return;
    // A request's line is logged when its response arrived, so events logged just before it
    // may be its own effects: an update released by an ACK (within 10 ms), an offer made by a
    // REVIVE (same millisecond).
    const t = this.#timeline[at]!.t;
    const seen = new Map<string, number>();
    for (const e of this.#timeline.slice(0, at)) {
      if (e.kind !== 'event' || e.t >= t - (e.type === 'OFFERS' ? 0.002 : 0.01)) continue;
      seen.set(e.stream, Math.max(seen.get(e.stream) ?? 0, e.index));
    }
    for (const [streamLabel, count] of seen) {
      const live = this.streams.get(streamLabel);
      const cap = this.captured.get(streamLabel);
      if (!live || !cap) continue;
      const expected = cap.events.slice(0, count).filter(isDriven);
      const offers = cap.events.slice(0, count).filter((e) => e.type === 'OFFERS').length;
      await live.wait(
        `${expected.map(summary).join(', ')} and ${offers} OFFERS (before ${label})`,
        () =>
          live.events.filter(isDriven).length >= expected.length &&
          live.events.filter((e) => e.type === 'OFFERS').length >= offers
            ? true
            : undefined,
        this.#timeoutMs,
      );
    }
  }

  /** The body to send: the captured one with ids rewritten (protobuf via its JSON form). */
  #body(name: string, req: CapturedRequest, contentType: string | undefined): Buffer {
    const raw = requestBody(req);
    if (raw.length === 0) return raw;
    const patch = (json: Record<string, unknown>): Record<string, unknown> => {
      for (const k of ['accept', 'decline']) {
        const part = json[k] as { offer_ids?: { value: string }[] } | undefined;
        if (part?.offer_ids) {
          part.offer_ids = part.offer_ids.flatMap((o) =>
            (this.#offerGroups.get(o.value) ?? [o.value]).map((value) => ({ value })),
          );
        }
      }
      const out = this.rewrite(json);
      this.options.patchRequest?.(name, out);
      return out;
    };
    if (contentType === PROTOBUF_TYPE) {
      const call = schedulerCall.decode(raw, 'protobuf');
      const json = JSON.parse(Buffer.from(schedulerCall.encode(call, 'json')).toString('utf8')) as Record<
        string,
        unknown
      >;
      return Buffer.from(
        schedulerCall.encode(
          schedulerCall.decode(Buffer.from(JSON.stringify(patch(json))), 'json'),
          'protobuf',
        ),
      );
    }
    if (typeof req.body_text_or_json === 'object' && req.body_text_or_json !== null) {
      return Buffer.from(JSON.stringify(patch(req.body_text_or_json as Record<string, unknown>)));
    }
    return Buffer.from(this.map(raw.toString('utf8')));
  }

  #headers(req: CapturedRequest): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const [k, v] of req.headers) {
      if (/^(host|content-length|connection)$/i.test(k)) continue;
      headers[k] = this.map(v);
    }
    return headers;
  }

  /** The call as JSON (whatever its encoding), to find the ids it needs. */
  #callJson(req: CapturedRequest, contentType: string | undefined): Record<string, unknown> | undefined {
    try {
      const raw = requestBody(req);
      const call = schedulerCall.decode(raw, contentType === PROTOBUF_TYPE ? 'protobuf' : 'json');
      return JSON.parse(Buffer.from(schedulerCall.encode(call, 'json')).toString('utf8')) as Record<
        string,
        unknown
      >;
    } catch {
      return undefined;
    }
  }

  /** Maps the offer ids and acknowledged uuids a captured call refers to. */
  async #resolve(call: Record<string, unknown>, streamLabel: string | undefined): Promise<void> {
    const offerIds: string[] = [];
    for (const k of ['accept', 'decline'] as const) {
      const part = call[k] as { offer_ids?: { value: string }[] } | undefined;
      for (const o of part?.offer_ids ?? []) offerIds.push(o.value);
    }
    for (const id of offerIds) {
      if (this.ids.has(id)) continue;
      const owner = [...this.captured].find(([, c]) =>
        c.events.some((e) => e.offers?.offers?.some((o) => o.id.value === id)),
      );
      if (!owner) continue; // an id Mesos never sent: replayed as is
      const live = this.stream(streamLabel ?? owner[0]);
      const capturedOffer = owner[1].events
        .flatMap((e) => e.offers?.offers ?? [])
        .find((o) => o.id.value === id)!;
      const unused = () =>
        live.events.flatMap((e) => e.offers?.offers ?? []).filter((o) => !this.#usedOffers.has(o.id.value));
      await live.wait(
        `an offer to stand for captured offer ${id}`,
        () => (unused().length > 0 ? true : undefined),
        this.#timeoutMs,
      );
      // Every outstanding offer of that agent stands for the captured one: with the local 50 ms
      // allocation cycle, what an ACCEPT left and what a finished task freed can come as two
      // offers where Mesos' 1 s tick made one.
      const agentId = unused().at(-1)!.agent_id.value;
      const group = unused().filter((o) => o.agent_id.value === agentId);
      for (const o of group) this.#usedOffers.add(o.id.value);
      this.ids.set(id, group[0]!.id.value);
      this.#offerGroups.set(
        id,
        group.map((o) => o.id.value),
      );
      this.ids.set(capturedOffer.agent_id.value, agentId);
    }
    const ack = call.acknowledge as { task_id: { value: string }; uuid: string } | undefined;
    if (ack && !this.ids.has(ack.uuid)) {
      for (const [label, c] of this.captured) {
        const update = c.events.find(
          (e) =>
            e.type === 'UPDATE' &&
            e.update!.status.uuid &&
            Buffer.from(e.update!.status.uuid).toString('base64') === ack.uuid,
        );
        if (!update) continue;
        const { task_id, state } = update.update!.status;
        const live = this.stream(label);
        const local = await live.wait(
          `UPDATE ${task_id.value} ${state} (to acknowledge)`,
          () =>
            live.events.find(
              (e) =>
                e.type === 'UPDATE' &&
                e.update!.status.task_id.value === task_id.value &&
                e.update!.status.state === state &&
                e.update!.status.uuid,
            ),
          this.#timeoutMs,
        );
        this.ids.set(ack.uuid, Buffer.from(local.update!.status.uuid!).toString('base64'));
        break;
      }
    }
  }

  /**
   * Opens the subscription of capture file `name` and compares its head; for a 200, waits for
   * the first record and maps the framework and stream ids.
   */
  async subscribe(
    name: string,
    options: { headers?: Record<string, string>; before?: () => Promise<void> | void } = {},
  ): Promise<LiveStream> {
    const label = this.label(name);
    await this.#sync(label);
    await options.before?.();
    const req = readRequest(this.scenario, name);
    const headers = { ...this.#headers(req), ...options.headers };
    const contentType = headers['Content-Type'] ?? headers['content-type'];
    const head = readHead(this.scenario, name);
    const live = new LiveStream(label);
    this.streams.set(label, live);
    await live.open(this.url, req.path, headers, this.#body(name, req, contentType));
    this.compareHead(name, live.status, live.headers, head, live.rawHeaders);
    if (head.status !== 200) {
      expect(live.body.toString('utf8'), `${name}: body`).toBe(
        this.map(readBody(this.scenario, name).toString()),
      );
      return live;
    }
    await live.wait('the first event', () => live.events[0], this.#timeoutMs);
    // Some subscriptions were captured by their head only: then SUBSCRIBED is expected.
    const first = hasFixture(this.scenario, `${name}.stream.bin`)
      ? this.capturedStream(name).events[0]
      : live.events[0]!.type === 'SUBSCRIBED'
        ? live.events[0]
        : undefined;
    expect(live.events[0]!.type, `${name}: first event`).toBe(first?.type ?? 'SUBSCRIBED');
    if (first?.type === 'SUBSCRIBED') {
      expect(live.events[0]!.type, `${name}: first event`).toBe('SUBSCRIBED');
      const capturedId = first.subscribed!.framework_id.value;
      const localId = live.events[0]!.subscribed!.framework_id.value;
      this.ids.set(capturedId, localId);
      // The master id prefixes every agent and offer id: map it too.
      this.ids.set(capturedId.replace(/-\d+$/, ''), localId.replace(/-\d+$/, ''));
    }
    if (head.headers['mesos-stream-id']) {
      this.ids.set(head.headers['mesos-stream-id'], live.streamId);
      this.#streamLabelById.set(live.streamId, label);
    }
    return live;
  }

  /** Sends the call of capture file `name` and compares the response. */
  async call(
    name: string,
    options: {
      headers?: Record<string, string>;
      compareBody?: boolean;
      before?: () => Promise<void> | void;
    } = {},
  ): Promise<Response> {
    const label = this.label(name);
    await this.#sync(label);
    await options.before?.();
    const req = readRequest(this.scenario, name);
    const contentTypeHeader = req.headers.find(([k]) => k.toLowerCase() === 'content-type')?.[1];
    const call = this.#callJson(req, contentTypeHeader);
    const streamHeader = req.headers.find(([k]) => k.toLowerCase() === 'mesos-stream-id')?.[1];
    const streamLabel = streamHeader ? this.#streamLabelById.get(this.map(streamHeader)) : undefined;
    if (call) await this.#resolve(call, streamLabel);
    const headers = { ...this.#headers(req), ...options.headers };
    const base = req.path.startsWith('/api/v1/executor') ? this.options.agentUrl : this.url;
    if (!base) throw new Error(`${name}: no agentUrl for ${req.path}`);
    const res = await rawRequest(
      base,
      req.method,
      req.path,
      headers,
      this.#body(name, req, contentTypeHeader),
    );
    const head = readHead(this.scenario, name);
    this.compareHead(
      `${name} (got body '${res.body.toString('utf8').slice(0, 300)}')`,
      res.status,
      res.headers,
      head,
      res.rawHeaders,
    );
    if (options.compareBody !== false) {
      expect(res.body.toString('utf8'), `${name}: body`).toBe(
        this.map(readBody(this.scenario, name).toString()),
      );
    }
    return res;
  }

  /** Status and the headers that matter. */
  compareHead(
    name: string,
    status: number,
    headers: http.IncomingHttpHeaders,
    captured: { status: number; headers: Record<string, string> },
    rawHeaders?: string[],
  ): void {
    expect(status, `${name}: status`).toBe(captured.status);
    if (rawHeaders) {
      // Header names in libprocess' order (Node's `Connection`/`Keep-Alive` are a known difference).
      const names = rawHeaders
        .filter((_, i) => i % 2 === 0)
        .map((n) => n.toLowerCase())
        .filter((n) => n !== 'connection' && n !== 'keep-alive');
      expect(names, `${name}: header order`).toEqual(Object.keys(captured.headers));
    }
    const h = captured.headers;
    expect(headers['content-type'], `${name}: Content-Type`).toBe(h['content-type']);
    expect(headers['transfer-encoding'], `${name}: Transfer-Encoding`).toBe(h['transfer-encoding']);
    expect('mesos-stream-id' in headers, `${name}: Mesos-Stream-Id present`).toBe('mesos-stream-id' in h);
    for (const k of ['allow', 'www-authenticate', 'location']) {
      expect(headers[k], `${name}: ${k}`).toBe(h[k] === undefined ? undefined : this.map(h[k]));
    }
    // 202 (and 200 without a stream) replies are `Content-Length: 0`; streams have none.
    if (h['content-length'] === '0' || h['content-length'] === undefined) {
      expect(headers['content-length'], `${name}: Content-Length`).toBe(h['content-length']);
    }
  }

  /**
   * Waits until the live stream has every compared event the capture has, then compares them in
   * order (normalised), and compares the first OFFERS and SUBSCRIBED events.
   */
  async compareStream(name: string, options: { ended?: boolean; offers?: boolean } = {}): Promise<void> {
    const label = this.label(name);
    const live = this.stream(label);
    const cap = this.capturedStream(name);
    const expected = cap.records
      .map((r, i) => ({ event: cap.events[i]!, json: recordJson(r, cap.encoding), raw: r }))
      .filter((x) => isCompared(x.event));
    await live.wait(
      `${expected.map((x) => summary(x.event)).join(', ')}`,
      () => (live.events.filter(isCompared).length >= expected.length ? true : undefined),
      this.#timeoutMs,
    );
    const actual = live.records
      .map((r, i) => ({ event: live.events[i]!, json: recordJson(r, live.encoding), raw: r }))
      .filter((x) => isCompared(x.event));
    if (process.env.CONFORMANCE_DEBUG) console.log(name, actual.map((x) => summary(x.event)).join(', '));
    expect(
      actual.map((x) => summary(x.event)),
      `${name}: event sequence`,
    ).toEqual(expected.map((x) => summary(x.event)));
    for (let i = 0; i < expected.length; i++) {
      const subscribed = expected[i]!.json.subscribed as Record<string, unknown> | undefined;
      if (subscribed && this.options.heartbeatSeconds !== undefined) {
        subscribed.heartbeat_interval_seconds = this.options.heartbeatSeconds;
      }
      if (live.encoding === 'json' && cap.encoding === 'json' && expected[i]!.event.type !== 'SUBSCRIBED') {
        // The record's text, byte for byte but for what varies (key order, `2.0` doubles …).
        expect(rawNormalize(Buffer.from(actual[i]!.raw).toString('utf8')), `${name}: text of #${i + 1}`).toBe(
          rawNormalize(this.map(Buffer.from(expected[i]!.raw).toString('utf8'))),
        );
      }
      if (live.encoding === 'json' && cap.encoding === 'json') {
        // Mesos writes JSON keys in .proto declaration order: so must we.
        expect(
          keyOrder(actual[i]!.json),
          `${name}: key order of ${summary(expected[i]!.event)} (#${i + 1})`,
        ).toEqual(keyOrder(expected[i]!.json));
      }
      expect(normalize(actual[i]!.json), `${name}: ${summary(expected[i]!.event)} (#${i + 1})`).toEqual(
        normalize(this.rewrite(expected[i]!.json)),
      );
    }
    const capOffers = cap.records.findIndex((_, i) => cap.events[i]!.type === 'OFFERS');
    if (options.offers !== false && capOffers >= 0) {
      const liveOffers = await live.wait('an OFFERS event', () => {
        const i = live.events.findIndex((e) => e.type === 'OFFERS');
        return i >= 0 ? i : undefined;
      });
      if (live.encoding === 'json' && cap.encoding === 'json') {
        expect(keyOrder(live.json(liveOffers)), `${name}: key order of the first OFFERS`).toEqual(
          keyOrder(recordJson(cap.records[capOffers]!, cap.encoding)),
        );
      }
      expect(normalize(live.json(liveOffers)), `${name}: first OFFERS`).toEqual(
        normalize(this.rewrite(recordJson(cap.records[capOffers]!, cap.encoding))),
      );
    }
    if (cap.events[0]?.type === 'SUBSCRIBED') {
      // SUBSCRIBED, then HEARTBEAT at once (the order of the first HEARTBEAT and OFFERS varies).
      expect(live.events[0]!.type).toBe('SUBSCRIBED');
      expect(live.events.slice(1, 3).map((e) => e.type)).toContain('HEARTBEAT');
    }
    if (options.ended !== undefined) {
      if (options.ended) await live.end(this.#timeoutMs);
      else expect(live.ended, `${name}: stream still open`).toBe(false);
    }
  }

  closeAll(): void {
    for (const s of this.streams.values()) s.close();
  }
}

export function rawRequest(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: Uint8Array,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, url);
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(method === 'GET' ? undefined : body);
  });
}

export { JSON_TYPE, PROTOBUF_TYPE };

/** A scheduler SUBSCRIBE (JSON or protobuf): its response is a stream. */
function isSubscribe(req: CapturedRequest): boolean {
  if (!req.path.includes('/scheduler')) return false;
  const ct = req.headers.find(([k]) => k.toLowerCase() === 'content-type')?.[1];
  try {
    return (
      schedulerCall.decode(requestBody(req), ct === PROTOBUF_TYPE ? 'protobuf' : 'json').type === 'SUBSCRIBE'
    );
  } catch {
    return false;
  }
}

export interface ScenarioStep {
  /**
   * Runs before the request of this file is sent, once what the capture saw before it arrived
   * (close a stream, check state …).
   */
  before?: (replay: Replay) => Promise<void> | void;
  /** Runs after its response was compared. */
  after?: (replay: Replay, response: Response | LiveStream) => Promise<void> | void;
  /** Do not send this request (with the reason in the test). */
  skip?: string;
  /** Compare status and headers only (a body that is not the scenario's subject). */
  compareBody?: boolean;
}

/**
 * Sends every request of the scenario in order (a file with a `.stream.bin` is a subscription),
 * with per-file hooks, then compares every subscription's events with the capture.
 */
export async function runScenario(
  replay: Replay,
  steps: Record<string, ScenarioStep> = {},
  options: {
    ended?: Record<string, boolean>;
    /** Compare the first OFFERS event of these subscriptions (default: all). */
    offers?: Record<string, boolean>;
  } = {},
): Promise<void> {
  const subscriptions: string[] = [];
  for (const name of requestNames(replay.scenario)) {
    const step = steps[name] ?? {};
    if (step.skip) continue;
    const before = () => step.before?.(replay);
    if (process.env.CONFORMANCE_DEBUG) console.log('→', name);
    if (isSubscribe(readRequest(replay.scenario, name))) {
      if (hasFixture(replay.scenario, `${name}.stream.bin`)) subscriptions.push(name);
      const live = await replay.subscribe(name, { before });
      await step.after?.(replay, live);
    } else {
      const res = await replay.call(name, {
        before,
        ...(step.compareBody === false && { compareBody: false }),
      });
      await step.after?.(replay, res);
    }
  }
  for (const name of subscriptions) {
    if (readHead(replay.scenario, name).status !== 200) continue;
    const ended = options.ended?.[name];
    await replay.compareStream(name, {
      ...(ended !== undefined && { ended }),
      offers: options.offers?.[name] ?? true,
    });
  }
}
