/**
 * HTTP plumbing shared by the master's and the agent's endpoints, reproducing libprocess and
 * Mesos byte for byte where clients can tell: error bodies are `text/plain; charset=utf-8`
 * without a trailing newline, accepted calls are `202` with `Content-Length: 0`, streams are
 * chunked with exactly one RecordIO record per chunk.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { encodeRecord, MEDIA_TYPES, type MesosEncoding, type MessageCodec } from '@mesoskit/protocol';

/** Largest request body accepted (Mesos accepts at least 12 MB; a bigger one gets 413). */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

export class BodyTooLargeError extends Error {}

/** Reads a request body, failing once it exceeds `limit` bytes (without buffering the rest). */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLargeError(`Request body is larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

/**
 * Writes the status line and headers in libprocess' order: `Date` first, then the given ones
 * (Node would append its own `Date` after them). Node still adds `Connection`/`Keep-Alive`.
 */
export function writeHead(res: ServerResponse, status: number, headers: Record<string, string>): void {
  res.sendDate = false;
  const flat = ['Date', httpDate()];
  for (const name in headers) flat.push(name, headers[name]!);
  res.writeHead(status, flat);
}

let dateSecond = Number.NaN;
let dateText = '';

/** The `Date` header's value (RFC 7231 form), formatted once per second. */
export function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

/** Sends a plain-text response the way libprocess does. */
export function sendText(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  const bytes = Buffer.from(body);
  writeHead(res, status, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(bytes.length),
  });
  res.end(bytes);
}

/** `202 Accepted` with an empty body. */
export function sendAccepted(res: ServerResponse): void {
  res.sendDate = false;
  res.writeHead(202, ['Date', httpDate(), 'Content-Length', '0']);
  res.end();
}

/** `200 OK` with an empty body (UPDATE_FRAMEWORK). */
export function sendOk(res: ServerResponse): void {
  writeHead(res, 200, { 'Content-Length': '0' });
  res.end();
}

/** `405` for anything but POST, with Mesos' exact body. */
export function sendMethodNotAllowed(res: ServerResponse, method: string | undefined): void {
  sendText(res, 405, `405 Method Not Allowed. Expecting one of { 'POST' }, but received '${method ?? ''}'.`, {
    Allow: 'POST',
  });
}

/** A rejection: the status and body to send. */
export interface HttpRejection {
  status: number;
  body: string;
}

/**
 * The request encoding from `Content-Type`, compared exactly as Mesos does (§1.2): missing →
 * 400, anything but the two media types (parameters included) → 415.
 */
export function requestEncoding(contentType: string | undefined): MesosEncoding | HttpRejection {
  if (contentType === undefined) return { status: 400, body: "Expecting 'Content-Type' to be present" };
  if (contentType === MEDIA_TYPES.json) return 'json';
  if (contentType === MEDIA_TYPES.protobuf) return 'protobuf';
  return { status: 415, body: "Expecting 'Content-Type' of application/json or application/x-protobuf" };
}

/**
 * The start both Mesos API endpoints share, in Mesos' order: POST only (405), a Mesos
 * `Content-Type` (400/415), a body within `MAX_BODY_BYTES` (413), a body that decodes as `codec`'s
 * message (400 with Mesos' text: `Failed to parse body into Call protobuf`, or the JSON
 * codec's `Failed to parse body into JSON: …` / `Failed to convert JSON into Call protobuf: …`).
 * Returns the decoded call, or `undefined` once an error response was sent.
 */
export async function readMesosCall<T>(
  req: IncomingMessage,
  res: ServerResponse,
  codec: MessageCodec<T>,
): Promise<{ encoding: MesosEncoding; call: T } | undefined> {
  if (req.method !== 'POST') {
    req.resume();
    sendMethodNotAllowed(res, req.method);
    return undefined;
  }
  const encoding = requestEncoding(req.headers['content-type']);
  if (typeof encoding !== 'string') {
    req.resume();
    sendText(res, encoding.status, encoding.body);
    return undefined;
  }
  let body: Buffer;
  try {
    body = await readBody(req);
  } catch (err) {
    if (err instanceof BodyTooLargeError) sendText(res, 413, err.message);
    else res.destroy();
    return undefined;
  }
  try {
    return { encoding, call: codec.decode(body, encoding) };
  } catch (err) {
    const text =
      encoding === 'protobuf'
        ? 'Failed to parse body into Call protobuf'
        : err instanceof Error
          ? err.message
          : `Failed to convert JSON into Call protobuf: ${String(err)}`;
    sendText(res, 400, text);
    return undefined;
  }
}

/** The 406 Mesos sends when `Accept` allows neither encoding. */
export const NOT_ACCEPTABLE: HttpRejection = {
  status: 406,
  body: "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'",
};

/**
 * The response encoding from `Accept` (§1.2): absent → JSON; entries split on `,` and `;`,
 * matched case-insensitively on `type/subtype`, `type/*`, `*\/*`; `q=0` excludes; JSON wins
 * whenever it is acceptable at all. `undefined` means 406.
 */
export function responseEncoding(accept: string | undefined): MesosEncoding | undefined {
  if (accept === undefined || accept.trim() === '') return 'json';
  const entries = accept.split(',').map((entry) => {
    const [range = '', ...params] = entry.split(';').map((p) => p.trim().toLowerCase());
    let q = 1;
    for (const p of params) {
      const m = /^q\s*=\s*([0-9.]+)$/.exec(p);
      if (m) q = Number(m[1]);
    }
    return { range, q };
  });
  const acceptable = (mediaType: string): boolean => {
    const [type] = mediaType.split('/');
    for (const candidate of [mediaType, `${type}/*`, '*/*']) {
      const hit = entries.find((e) => e.range === candidate);
      if (hit) return hit.q > 0;
    }
    return false;
  };
  if (acceptable(MEDIA_TYPES.json)) return 'json';
  if (acceptable(MEDIA_TYPES.protobuf)) return 'protobuf';
  return undefined;
}

/**
 * A streaming `200` response of RecordIO records: chunked, one record per chunk (one write
 * each), as libprocess does and some clients rely on.
 *
 * Records go straight to the socket as finished HTTP chunks, not through `res.write` (which
 * corks the socket until the next tick): the servers coalesce each socket's writes until the end
 * of the event loop iteration (`coalesceWrites`) and flush sockets in the order of their latest
 * write, so an event reaches the socket queue before the `202` of the call that caused it and
 * leaves first (a LAUNCH before the ACCEPT's answer: one wakeup less on the task's path). The
 * response falls back to `res.write` while it does not own its socket (a pipelined request's
 * response waiting behind another).
 */
export class RecordIOResponse {
  readonly encoding: MesosEncoding;
  #res: ServerResponse;
  #ended = false;

  constructor(res: ServerResponse, encoding: MesosEncoding, headers: Record<string, string> = {}) {
    this.encoding = encoding;
    this.#res = res;
    // As captured: Date, Transfer-Encoding, [Mesos-Stream-Id], Content-Type.
    writeHead(res, 200, {
      'Transfer-Encoding': 'chunked',
      ...headers,
      'Content-Type': MEDIA_TYPES[encoding],
    });
    res.flushHeaders();
  }

  /** True once the stream ended or the client went away. */
  get closed(): boolean {
    return this.#ended || this.#res.destroyed || this.#res.writableEnded;
  }

  /** Writes one record (an already encoded message). Returns false if the stream is closed. */
  send(record: Uint8Array): boolean {
    if (this.closed) return false;
    const res = this.#res as ServerResponse & { _httpMessage?: unknown; writableLength: number };
    const socket = res.socket as (Socket & { _httpMessage?: unknown }) | null;
    if (socket === null || socket._httpMessage !== res || res.writableLength > 0) {
      res.write(encodeRecord(record));
      return true;
    }
    if (socket.destroyed || !socket.writable) return false;
    writeRecordChunk(socket, record);
    return true;
  }

  /** Ends the stream with the terminating zero-length chunk (the connection stays open). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.#res.writableEnded) this.#res.end();
  }

  /** Called when the client disconnects (socket closed) or the stream ends. */
  onClose(fn: () => void): void {
    this.#res.once('close', fn);
  }
}

const CRLF = Buffer.from('\r\n');
/** Records up to this size are framed in one buffer (a copy); larger ones are written in pieces. */
const COPY_RECORD_MAX = 16 * 1024;

/**
 * One RecordIO record as one HTTP chunk: `<hex size>\r\n<decimal length>\n<record>\r\n`, the
 * bytes `res.write(encodeRecord(record))` puts on the wire.
 */
function writeRecordChunk(socket: Socket, record: Uint8Array): void {
  const length = String(record.length);
  const size = (length.length + 1 + record.length).toString(16);
  if (record.length > COPY_RECORD_MAX) {
    socket.write(`${size}\r\n${length}\n`, 'latin1');
    socket.write(record);
    socket.write(CRLF);
    return;
  }
  const head = size.length + 2 + length.length + 1;
  const out = Buffer.allocUnsafe(head + record.length + 2);
  out.write(`${size}\r\n${length}\n`, 0, 'latin1');
  out.set(record, head);
  out[head + record.length] = 13;
  out[head + record.length + 1] = 10;
  socket.write(out);
}

// ------------------------------------------------------------------ write coalescing

interface Chunk {
  chunk: Buffer | string;
  encoding: BufferEncoding;
}

/** What node's `net.Socket` implements of the `Writable` contract (not in its typings). */
interface RawSocket {
  _write(chunk: Buffer | string, encoding: BufferEncoding, cb: (err?: Error | null) => void): void;
  _writev(chunks: Chunk[], cb: (err?: Error | null) => void): void;
  _final(cb: (err?: Error | null) => void): void;
  _destroy(err: Error | null, cb: (err: Error | null) => void): void;
  _handle: unknown;
}

/** Sockets with writes waiting, in the order of their latest write. */
const waiting = new Set<Coalescer>();
let flushScheduled = false;
/** What must happen before coalesced writes leave (see {@link beforeSocketWrites}). */
const beforeWrites: (() => void)[] = [];

/**
 * Runs `fn` before the coalesced writes of each event loop iteration leave: the agent writes
 * its checkpoint there, so that nothing is said about what is not on disk yet.
 */
export function beforeSocketWrites(fn: () => void): void {
  if (!beforeWrites.includes(fn)) beforeWrites.push(fn);
}

function flushAll(): void {
  flushScheduled = false;
  for (const fn of beforeWrites) fn();
  const sockets = [...waiting];
  waiting.clear();
  for (const c of sockets) c.flush();
}

/**
 * Holds a socket's writes until the end of the event loop iteration and then writes them with
 * one `writev`: the RecordIO records of a stream sent in one iteration, and the answers to
 * pipelined calls, leave in one system call (each loopback write costs a wakeup of the reader,
 * the largest cost of the cluster under load). The bytes are the same: every record still has
 * its own HTTP chunk, every response its own head. Sockets are flushed in the order of their
 * latest write, so a call's answer leaves after the events it caused on the stream.
 */
class Coalescer {
  readonly #socket: Socket;
  readonly #raw: RawSocket;
  readonly #writev: RawSocket['_writev'];
  #queue: Chunk[] = [];

  constructor(socket: Socket) {
    this.#socket = socket;
    const raw = socket as unknown as RawSocket;
    this.#raw = raw;
    this.#writev = raw._writev;
    const final = raw._final;
    const destroy = raw._destroy;
    raw._write = (chunk, encoding, cb) => {
      this.#queue.push({ chunk, encoding });
      this.#schedule();
      cb();
    };
    raw._writev = (chunks, cb) => {
      for (const c of chunks) this.#queue.push({ chunk: c.chunk, encoding: c.encoding });
      this.#schedule();
      cb();
    };
    // What was written goes out before the socket ends or closes.
    raw._final = (cb) => {
      this.flush();
      final.call(socket, cb);
    };
    raw._destroy = (err, cb) => {
      this.flush();
      destroy.call(socket, err, cb);
    };
  }

  #schedule(): void {
    waiting.delete(this);
    waiting.add(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushAll);
    }
  }

  flush(): void {
    waiting.delete(this);
    const chunks = this.#queue;
    if (chunks.length === 0) return;
    for (const fn of beforeWrites) fn();
    this.#queue = [];
    if (!this.#raw._handle) return;
    this.#writev.call(this.#socket, chunks, (err) => {
      if (err) this.#socket.destroy(err);
    });
  }
}

/** Coalesces the writes of every connection `server` accepts (see `Coalescer`). */
export function coalesceWrites(server: Server): void {
  server.on('connection', (socket: Socket) => {
    new Coalescer(socket);
  });
}
