/**
 * A fake Mesos master on node:http (port 0): records every request, answers SUBSCRIBE with a
 * RecordIO stream the test writes to, and answers calls as the test says.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  encodeRecord,
  encodingOfMediaType,
  type MesosEncoding,
  type SchedulerCall,
  type SchedulerEvent,
  schedulerCall,
  schedulerEvent,
} from '@mesoskit/protocol';

// Waits in tests use the real clock even while a test fakes timers.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

export interface RecordedRequest {
  /** `Date.now()` when the request arrived (the fake clock when a test fakes `Date`). */
  at: number;
  /** The client's port: requests with the same one came over the same connection. */
  remotePort: number | undefined;
  path: string;
  headers: http.IncomingHttpHeaders;
  encoding: MesosEncoding;
  raw: Buffer;
  call: SchedulerCall;
}

export interface Subscription {
  streamId: string;
  call: SchedulerCall;
  encoding: MesosEncoding;
  response: ServerResponse;
  send(event: SchedulerEvent): void;
  /** Ends the chunked body, as Mesos does after ERROR. */
  end(): void;
  /** Drops the TCP connection. */
  destroy(): void;
}

export type Reply = { status: number; body?: string | Buffer; headers?: Record<string, string> } | 'default';

/**
 * A response captured from a real Mesos master (`NN-name.response.head.txt` + `.response.body.bin`
 * in `dir`), as a reply the fake master sends back byte for byte (status, headers, body).
 */
export function capturedReply(
  dir: URL,
  name: string,
): { status: number; body: Buffer; headers: Record<string, string> } {
  const head = readFileSync(new URL(`${name}.response.head.txt`, dir), 'latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head[0] ?? '')?.[1]);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon);
    // node computes these itself
    if (/^(date|content-length|transfer-encoding)$/i.test(key)) continue;
    headers[key] = line.slice(colon + 1).trim();
  }
  let body = Buffer.alloc(0);
  try {
    body = readFileSync(new URL(`${name}.response.body.bin`, dir));
  } catch {
    // a capture without body
  }
  return { status, headers, body };
}

export class FakeMaster {
  readonly requests: RecordedRequest[] = [];
  readonly subscriptions: Subscription[] = [];
  /**
   * Decides the answer to a request (a promise holds the answer back); `'default'`: SUBSCRIBE →
   * stream + SUBSCRIBED, calls → 202.
   */
  respond: (req: RecordedRequest) => Reply | Promise<Reply> = () => 'default';
  frameworkId = 'fake-master-0000';
  heartbeatIntervalSeconds = 15;
  /** When set, SUBSCRIBE gets 200 + this ERROR event + end of stream, as Mesos refuses. */
  refuseWith: string | undefined;
  /** When set, SUBSCRIBE's stream is these bytes (a captured RecordIO body), written in small chunks. */
  replay: Uint8Array | undefined;
  /** When true, SUBSCRIBE gets 200 and a stream that stays silent. */
  silent = false;
  /** Events written right after SUBSCRIBED and the first HEARTBEAT (as Mesos sends OFFERS). */
  afterSubscribed: SchedulerEvent[] = [];
  #waiters: (() => void)[] = [];

  private constructor(
    readonly server: http.Server,
    readonly url: string,
  ) {}

  /** Starts on 127.0.0.1, port 0; with `tls`, serves https. */
  static async start(
    options: { tls?: { key: string | Buffer; cert: string | Buffer } } = {},
  ): Promise<FakeMaster> {
    const server = options.tls ? https.createServer(options.tls) : http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const master = new FakeMaster(server, `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`);
    server.on('request', (req, res) => master.#handle(req, res));
    return master;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const encoding = encodingOfMediaType(req.headers['content-type']) ?? 'json';
    const call = schedulerCall.decode(raw, encoding);
    const recorded: RecordedRequest = {
      at: Date.now(),
      remotePort: req.socket.remotePort,
      path: req.url ?? '',
      headers: req.headers,
      encoding,
      raw,
      call,
    };
    this.requests.push(recorded);
    this.#wake();
    const reply = await this.respond(recorded);
    if (reply !== 'default') {
      res.writeHead(reply.status, reply.headers ?? {});
      res.end(reply.body ?? '');
    } else if (call.type === 'SUBSCRIBE') {
      this.#subscribe(recorded, res);
    } else {
      res.writeHead(call.type === 'UPDATE_FRAMEWORK' ? 200 : 202);
      res.end();
    }
    this.#wake();
  }

  #subscribe(recorded: RecordedRequest, res: ServerResponse): void {
    const streamId = randomUUID();
    const { encoding } = recorded;
    res.writeHead(200, {
      'Content-Type': `application/${encoding === 'json' ? 'json' : 'x-protobuf'}`,
      'Mesos-Stream-Id': streamId,
    });
    const sub: Subscription = {
      streamId,
      call: recorded.call,
      encoding,
      response: res,
      send: (event) => {
        res.write(encodeRecord(schedulerEvent.encode(event, encoding)));
      },
      end: () => res.end(),
      destroy: () => res.socket?.destroy(),
    };
    this.subscriptions.push(sub);
    if (this.replay !== undefined) {
      for (let i = 0; i < this.replay.length; i += 97) res.write(this.replay.subarray(i, i + 97));
      return;
    }
    if (this.silent) {
      res.flushHeaders();
      return;
    }
    if (this.refuseWith !== undefined) {
      sub.send({ type: 'ERROR', error: { message: this.refuseWith } });
      sub.end();
      return;
    }
    const id = recorded.call.framework_id?.value ?? this.frameworkId;
    sub.send({
      type: 'SUBSCRIBED',
      subscribed: { framework_id: { value: id }, heartbeat_interval_seconds: this.heartbeatIntervalSeconds },
    });
    sub.send({ type: 'HEARTBEAT' });
    for (const event of this.afterSubscribed) sub.send(event);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Waits until a request matching `pred` arrived (counting from `from`); the timeout names `what`. */
  async waitForRequest(
    what: string,
    pred: (r: RecordedRequest) => boolean,
    { timeoutMs = 3000, from = 0 } = {},
  ): Promise<RecordedRequest> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.requests.slice(from).find(pred);
      if (found) return found;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = realSetTimeout(resolve, left);
        this.#waiters.push(() => {
          realClearTimeout(timer);
          resolve();
        });
      });
    }
  }

  waitForCall(type: SchedulerCall['type'], options?: { timeoutMs?: number; from?: number }) {
    return this.waitForRequest(`a ${type} call`, (r) => r.call.type === type, options);
  }

  get last(): Subscription {
    const sub = this.subscriptions.at(-1);
    if (!sub) throw new Error('no subscription yet');
    return sub;
  }

  async stop(): Promise<void> {
    for (const sub of this.subscriptions) sub.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Resolves with the first value `pick` returns for an item of `iterable`; the timeout names `what`. */
export async function within<T>(what: string, timeoutMs: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = realSetTimeout(
          () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    realClearTimeout(timer);
  }
}

/** The first item of `iterable` matching `pred`. */
export async function first<T>(iterable: AsyncIterable<T>, pred: (item: T) => boolean): Promise<T> {
  for await (const item of iterable) if (pred(item)) return item;
  throw new Error('the iterable ended first');
}
