/**
 * Early SUBSCRIBE for the CLI's cold start: the CLI sends SUBSCRIBE as soon as it has parsed
 * its arguments, before it loads the runtime, `@mesoskit/protocol` (protobufjs, MessagePack)
 * and the handler module, which is most of its start-up time. The stream is buffered until the
 * runtime's first SUBSCRIBE adopts it (`takeEarlySubscription`, matched byte for byte on the
 * request it would send itself), so events the agent sends meanwhile are not lost.
 *
 * This module must import nothing heavy: it encodes the one call it sends by hand (`Call`
 * executor_id = 1, framework_id = 2, type = 3 (SUBSCRIBE = 1), subscribe = 4, empty).
 *
 * @module
 */
import { type StreamHandlers, StreamRequest } from './event-stream.js';

type Replay =
  | { kind: 'head'; status: number; headers: ReadonlyMap<string, string> }
  | { kind: 'body'; bytes: Buffer }
  | { kind: 'end'; error: Error | undefined };

/** A stream request whose callbacks are recorded until `adopt()` hands them to real handlers. */
export class BufferedStream {
  readonly #log: Replay[] = [];
  #handlers: StreamHandlers | undefined;
  readonly #request: StreamRequest;
  readonly head: string;
  readonly body: Buffer;

  constructor(url: URL, head: string, body: Buffer) {
    this.head = head;
    this.body = body;
    this.#request = new StreamRequest(url, head, body, {
      onHead: (status, headers) => this.#emit({ kind: 'head', status, headers }),
      // Body bytes are views of a reused read buffer: kept ones are copied.
      onBody: (bytes) =>
        this.#handlers
          ? this.#handlers.onBody(bytes)
          : this.#log.push({ kind: 'body', bytes: Buffer.from(bytes) }),
      onEnd: (error) => this.#emit({ kind: 'end', error }),
      pauseAfterRead: () => this.#handlers?.pauseAfterRead?.() ?? 0,
    });
  }

  #emit(event: Replay): void {
    const h = this.#handlers;
    if (!h) {
      this.#log.push(event);
      return;
    }
    if (event.kind === 'head') h.onHead(event.status, event.headers);
    else if (event.kind === 'end') h.onEnd(event.error);
  }

  /**
   * Hands the stream to `handlers`: what arrived so far is replayed on the next microtask, then
   * callbacks go straight to them.
   */
  adopt(handlers: StreamHandlers): StreamRequest {
    queueMicrotask(() => {
      for (const event of this.#log) {
        if (event.kind === 'head') handlers.onHead(event.status, event.headers);
        else if (event.kind === 'body') handlers.onBody(event.bytes);
        else handlers.onEnd(event.error);
      }
      this.#log.length = 0;
      this.#handlers = handlers;
    });
    return this.#request;
  }

  destroy(): void {
    this.#request.destroy();
  }
}

let early: BufferedStream | undefined;

/** What the early SUBSCRIBE needs; the runtime reads the same variables (options.ts). */
export interface EarlySubscribeInit {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly encoding: 'json' | 'protobuf';
}

/**
 * Sends SUBSCRIBE now if the environment has what it takes (the runtime reports anything
 * missing or wrong later, on its own path). At most once per process.
 */
export function subscribeEarly({ env, encoding }: EarlySubscribeInit): void {
  if (early) return;
  const endpoint = env.MESOS_AGENT_ENDPOINT;
  const frameworkId = env.MESOS_FRAMEWORK_ID;
  const executorId = env.MESOS_EXECUTOR_ID;
  if (!endpoint || !frameworkId || !executorId || /[/\s]/.test(endpoint) || endpoint.includes('://')) return;
  let url: URL;
  try {
    url = new URL(`http://${endpoint}/api/v1/executor`);
  } catch {
    return;
  }
  const token = env.MESOS_EXECUTOR_AUTHENTICATION_TOKEN;
  const headers = streamHeaders(encoding, token === undefined || token === '' ? undefined : token);
  early = new BufferedStream(
    url,
    requestHead(url, headers),
    subscribeBody(encoding, executorId, frameworkId),
  );
}

/**
 * The early stream, if its request is exactly `head` + `body` (else it is closed): the runtime
 * adopts it instead of sending its own first SUBSCRIBE.
 */
export function takeEarlySubscription(head: string, body: Uint8Array): BufferedStream | undefined {
  const stream = early;
  early = undefined;
  if (!stream) return undefined;
  if (stream.head === head && stream.body.equals(body)) return stream;
  stream.destroy();
  return undefined;
}

/** The headers of SUBSCRIBE, in the order the runtime sends them. */
export function streamHeaders(
  encoding: 'json' | 'protobuf',
  authToken: string | undefined,
): Record<string, string> {
  const media = encoding === 'json' ? 'application/json' : 'application/x-protobuf';
  const headers: Record<string, string> = { 'Content-Type': media };
  if (authToken !== undefined) headers.Authorization = `Bearer ${authToken}`;
  headers.Accept = media;
  return headers;
}

/** Request line and headers (Content-Length follows). */
export function requestHead(url: URL, headers: Record<string, string>): string {
  let head = `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  return head;
}

/** `{ executor_id, framework_id, type: SUBSCRIBE, subscribe: {} }` in either encoding. */
export function subscribeBody(
  encoding: 'json' | 'protobuf',
  executorId: string,
  frameworkId: string,
): Buffer {
  if (encoding === 'json') {
    return Buffer.from(
      JSON.stringify({
        executor_id: { value: executorId },
        framework_id: { value: frameworkId },
        type: 'SUBSCRIBE',
        subscribe: {},
      }),
    );
  }
  const id = (tag: number, value: string): Buffer => {
    const v = Buffer.from(value, 'utf8');
    const inner = Buffer.concat([Buffer.of(0x0a), varint(v.length), v]);
    return Buffer.concat([Buffer.of(tag), varint(inner.length), inner]);
  };
  return Buffer.concat([id(0x0a, executorId), id(0x12, frameworkId), Buffer.of(0x18, 0x01, 0x22, 0x00)]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}
