/**
 * The scheduler's call connection: one persistent HTTP/1.1 connection to the master on which
 * calls are written back to back (pipelined) and answered in order, as libprocess serves a
 * connection. Calls made in the same tick leave in one write, so a burst of ACKNOWLEDGEs costs
 * one syscall, not one request round trip each; and calls reach the master in the order they
 * were made.
 *
 * Responses are parsed just enough: the status, `Location`, and the body (by `Content-Length`
 * or chunked), which callers need for Mesos' error messages and redirects.
 *
 * @module
 */
import net from 'node:net';
import tls from 'node:tls';
import { CallTimeoutError } from './errors.js';

export interface CallResponse {
  status: number;
  /** The `Location` header (redirects), if any. */
  location: string | undefined;
  body: Buffer;
}

export interface CallPipelineOptions {
  /** Headers sent with every request (`Content-Type`, `Accept`, `Authorization`). */
  headers: Record<string, string>;
  /** A call without its response within this time fails, and the connection is dropped. */
  timeoutMs: number;
  /** Extra CA certificate(s) for `https:`. */
  ca?: string | Buffer | (string | Buffer)[] | undefined;
}

interface Pending {
  /** The whole request: one buffer, or head and body apart when the body is large. */
  bytes: Buffer | [Buffer, Uint8Array];
  resolve: (response: CallResponse) => void;
  reject: (err: Error) => void;
  /** Written to the current connection. */
  written: boolean;
  /** Already resent once. */
  retried: boolean;
  deadline: number;
}

const CRLF = Buffer.from('\r\n');
const CRLF2 = Buffer.from('\r\n\r\n');
const MAX_HEAD_BYTES = 64 * 1024;
/** Bodies up to this size are copied behind their head; larger ones are written apart. */
const COPY_LIMIT = 16 * 1024;
const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** Calls pipelined on one connection to one URL. */
export class CallPipeline {
  readonly url: URL;
  readonly #options: CallPipelineOptions;
  readonly #head: string;
  readonly #pending: Pending[] = [];
  #out: (Buffer | [Buffer, Uint8Array])[] = [];
  #flushScheduled = false;
  #socket: net.Socket | undefined;
  /** Responses completed on the current connection (a reused connection may have been closed idle). */
  #answered = 0;
  #closed = false;
  /** Fires at the oldest pending call's deadline (or later: it checks again, see `#armTimer`). */
  #timer: NodeJS.Timeout | undefined;
  /** The request head up to `Content-Length` for the latest per-call headers object. */
  #lastHeaders: Record<string, string> | undefined;
  #lastHead = '';
  // Response parser state.
  #buf: Buffer = Buffer.alloc(0);
  #status = 0;
  #location: string | undefined;
  /** -1: reading the head; else body bytes still expected (non-chunked). */
  #bodyLeft = -1;
  #chunked = false;
  #body: Buffer[] = [];
  #bodyBytes = 0;
  /** A response byte arrived since the last complete response. */
  #partial = false;

  constructor(url: URL, options: CallPipelineOptions) {
    this.url = url;
    this.#options = options;
    let head = `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n`;
    for (const [k, v] of Object.entries(options.headers)) head += `${k}: ${v}\r\n`;
    this.#head = head;
  }

  /**
   * POSTs `body` with `headers` (on top of the constant ones); resolves with the response. Pass
   * the same `headers` object for every call that has the same headers: its text is reused.
   */
  post(body: Uint8Array, headers?: Record<string, string>): Promise<CallResponse> {
    if (this.#closed) return Promise.reject(new Error('the call connection is closed'));
    const head = `${this.#headFor(headers)}Content-Length: ${body.byteLength}\r\n\r\n`;
    let bytes: Buffer | [Buffer, Uint8Array];
    if (body.byteLength > COPY_LIMIT) {
      // Large bodies are written as they are (gathered by writev), not copied.
      bytes = [Buffer.from(head, 'latin1'), body];
    } else {
      bytes = Buffer.allocUnsafe(head.length + body.byteLength);
      bytes.write(head, 0, 'latin1');
      bytes.set(body, head.length);
    }
    return new Promise((resolve, reject) => {
      this.#pending.push({
        bytes,
        resolve,
        reject,
        written: false,
        retried: false,
        deadline: Date.now() + this.#options.timeoutMs,
      });
      this.#out.push(bytes);
      this.#scheduleFlush();
      if (this.#timer === undefined) this.#armTimer();
    });
  }

  #headFor(headers: Record<string, string> | undefined): string {
    if (headers === undefined) return this.#head;
    if (headers !== this.#lastHeaders) {
      let head = this.#head;
      for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
      this.#lastHeaders = headers;
      this.#lastHead = head;
    }
    return this.#lastHead;
  }

  /** Rejects every pending call and closes the connection. Idempotent. */
  close(error: Error = new Error('the call connection is closed')): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.destroy();
    this.#out = [];
    for (const p of this.#pending.splice(0)) p.reject(error);
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    process.nextTick(() => this.#flush());
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#out.length === 0 || this.#closed) return;
    const socket = this.#socket ?? this.#connect();
    const out = this.#out;
    this.#out = [];
    // What `out` holds is the tail of the pending calls.
    for (let i = this.#pending.length - out.length; i < this.#pending.length; i++) {
      this.#pending[i]!.written = true;
    }
    if (out.every((bytes): bytes is Buffer => Buffer.isBuffer(bytes))) {
      socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
      return;
    }
    socket.cork();
    for (const bytes of out) {
      if (Buffer.isBuffer(bytes)) socket.write(bytes);
      else for (const part of bytes) socket.write(part);
    }
    socket.uncork();
  }

  #connect(): net.Socket {
    const port = Number(this.url.port || (this.url.protocol === 'https:' ? 443 : 80));
    const host = this.url.hostname.replace(/^\[|\]$/g, '');
    const socket =
      this.url.protocol === 'https:'
        ? tls.connect({
            host,
            port,
            servername: net.isIP(host) ? undefined : host,
            ...(this.#options.ca !== undefined && { ca: this.#options.ca }),
          })
        : net.connect({ host, port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    this.#socket = socket;
    this.#answered = 0;
    this.#resetParser();
    socket.on('data', (chunk: Buffer) => this.#onData(socket, chunk));
    socket.on('error', (err) => this.#lost(socket, err));
    socket.on('close', () => this.#lost(socket, undefined));
    return socket;
  }

  #resetParser(): void {
    this.#buf = Buffer.alloc(0);
    this.#bodyLeft = -1;
    this.#chunked = false;
    this.#body = [];
    this.#bodyBytes = 0;
    this.#partial = false;
    this.#location = undefined;
  }

  /** The connection ended: resend what a reused connection may have dropped unread, fail the rest. */
  #lost(socket: net.Socket, err: Error | undefined): void {
    if (this.#socket !== socket) return;
    this.#socket = undefined;
    const error = err ?? new Error(`the master at ${this.url.host} closed the call connection`);
    // A keep-alive connection the master closed while idle: the first request written to it was
    // never read. Resend it (once) when nothing of its response arrived; anything else may have
    // been processed, so it fails and the caller decides.
    const reused = this.#answered > 0;
    const written = this.#pending.filter((p) => p.written);
    const unwritten = this.#pending.filter((p) => !p.written);
    const first = written[0];
    const resend = reused && !this.#partial && first !== undefined && !first.retried;
    for (const p of resend ? written.slice(1) : written) p.reject(error);
    const keep = resend && first !== undefined ? [first, ...unwritten] : unwritten;
    if (resend && first !== undefined) first.retried = true;
    for (const p of keep) p.written = false;
    this.#pending.splice(0, this.#pending.length, ...keep);
    this.#out = keep.map((p) => p.bytes);
    if (keep.length > 0 && !this.#closed) this.#scheduleFlush();
    this.#armTimer();
  }

  /**
   * Arms the one timer for the oldest pending call's deadline. Not re-armed per call or per
   * response: when it fires early (that call was answered), it arms itself for the next.
   */
  #armTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const first = this.#pending[0];
    if (first === undefined || this.#closed) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        const oldest = this.#pending[0];
        if (oldest === undefined) return;
        if (oldest.deadline > Date.now()) {
          this.#armTimer();
          return;
        }
        const socket = this.#socket;
        const error = new CallTimeoutError(this.url.host, this.#options.timeoutMs);
        // Responses come in order: the connection is of no use past a lost one.
        this.#socket = undefined;
        socket?.destroy();
        for (const p of this.#pending.splice(0)) p.reject(error);
        this.#out = [];
      },
      Math.max(0, first.deadline - Date.now()),
    );
    this.#timer.unref();
  }

  #onData(socket: net.Socket, chunk: Buffer): void {
    this.#partial = true;
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    try {
      while (this.#parseOne()) {
        // one complete response handled per iteration
      }
    } catch (err) {
      socket.destroy(err as Error);
    }
  }

  /** Parses one response if complete; returns whether it did. */
  #parseOne(): boolean {
    if (this.#bodyLeft < 0) {
      const end = this.#buf.indexOf(CRLF2);
      if (end < 0) {
        if (this.#buf.length > MAX_HEAD_BYTES) throw new Error('response head too large');
        return false;
      }
      const head = this.#buf.subarray(0, end).toString('latin1');
      this.#buf = this.#buf.subarray(end + 4);
      const status = Number(head.slice(9, 12));
      if (!head.startsWith('HTTP/1.') || !Number.isInteger(status)) {
        throw new Error(`malformed response from ${this.url.host}: ${JSON.stringify(head.slice(0, 40))}`);
      }
      this.#status = status;
      const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
      this.#chunked = length === null && /\r\ntransfer-encoding:[ \t]*chunked/i.test(head);
      this.#bodyLeft = length === null ? 0 : Number(length[1]);
      if (this.#bodyLeft > MAX_BODY_BYTES) throw new Error('response body too large');
      this.#location = /\r\nlocation:[ \t]*([^\r\n]*)/i.exec(head)?.[1]?.trim();
    }
    if (this.#chunked) {
      for (;;) {
        const line = this.#buf.indexOf(CRLF);
        if (line < 0) return false;
        const size = Number.parseInt(this.#buf.subarray(0, line).toString('latin1'), 16);
        if (!Number.isInteger(size) || size < 0) throw new Error('malformed chunk size');
        if (size === 0) {
          const trailerEnd = this.#buf.indexOf(CRLF2, line);
          if (trailerEnd < 0) return false;
          this.#buf = this.#buf.subarray(trailerEnd + 4);
          break;
        }
        if (this.#buf.length < line + 2 + size + 2) return false;
        this.#bodyBytes += size;
        if (this.#bodyBytes > MAX_BODY_BYTES) throw new Error('response body too large');
        this.#body.push(this.#buf.subarray(line + 2, line + 2 + size));
        this.#buf = this.#buf.subarray(line + 2 + size + 2);
      }
    } else {
      if (this.#buf.length < this.#bodyLeft) return false;
      if (this.#bodyLeft > 0) this.#body.push(this.#buf.subarray(0, this.#bodyLeft));
      this.#buf = this.#buf.subarray(this.#bodyLeft);
    }
    const response: CallResponse = {
      status: this.#status,
      location: this.#location,
      body: this.#body.length === 1 ? this.#body[0]! : Buffer.concat(this.#body),
    };
    this.#bodyLeft = -1;
    this.#chunked = false;
    this.#body = [];
    this.#bodyBytes = 0;
    this.#location = undefined;
    this.#partial = this.#buf.length > 0;
    this.#answered++;
    const p = this.#pending.shift();
    if (p === undefined) throw new Error('a response nobody asked for');
    p.resolve(response);
    return this.#buf.length > 0;
  }
}
