/**
 * The executor's call connection: one persistent HTTP/1.1 connection on which calls are
 * written back to back (pipelined) and answered in order, as libprocess serves a connection.
 * Calls issued in the same tick leave in one write. Responses are parsed just enough to read
 * the status and skip the body (`Content-Length` or chunked).
 *
 * This is much cheaper than one `http.request` per call, which matters because every task
 * costs a call or two (the terminal update, and TASK_RUNNING for longer runs). Nobody waits on
 * the answers, so with `readBatchMs` they are read in batches while some are due.
 *
 * @module
 */
import net from 'node:net';

/** Called once per call: with the response status, or with the error that lost the call. */
export type CallDone<C = unknown> = (error: Error | undefined, status: number, context: C) => void;

interface Pending {
  done: CallDone;
  context: unknown;
  /** The request's bytes, kept to resend it once on a fresh connection. */
  bytes: Buffer;
  /** Already resent once. */
  retried: boolean;
}

const CRLF2 = Buffer.from('\r\n\r\n');

export class CallChannel {
  readonly #host: string;
  readonly #port: number;
  readonly #head: string;
  #socket: net.Socket | undefined;
  readonly #pending: Pending[] = [];
  #out: Buffer[] = [];
  #flushScheduled = false;
  #buf: Buffer = Buffer.alloc(0);
  readonly #readBuffer = Buffer.allocUnsafe(64 * 1024);
  readonly #readBatchMs: number;
  #requestHead: Buffer | undefined;
  #pauseTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #resume = (socket: net.Socket): void => {
    this.#pauseTimer = undefined;
    if (this.#socket === socket) socket.resume();
  };
  /** Bytes of the current response body still to skip (-1: reading the head). */
  #bodyLeft = -1;
  #chunked = false;
  #status = 0;
  #closed = false;
  /** How many of `#pending` (from the front) were written to the current connection. */
  #written = 0;

  /**
   * @param readBatchMs while answers are due, wait this long between reads of the connection
   *   (0: read each answer as it comes).
   */
  constructor(url: URL, headers: Record<string, string>, readBatchMs = 0) {
    this.#readBatchMs = readBatchMs;
    this.#host = url.hostname.replace(/^\[|\]$/g, '');
    this.#port = Number(url.port || 80);
    let head = `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    this.#head = head;
  }

  /** Sends one request body; resolves with the response status. */
  post(body: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.send(body, (error, status) => (error ? reject(error) : resolve(status)), undefined);
    });
  }

  /** Sends one request body; `done` gets the response status (no promise: the cheap path). */
  send<C>(body: Uint8Array, done: CallDone<C>, context: C): void {
    if (this.#closed) {
      process.nextTick(done, new Error('the call connection is closed'), 0, context);
      return;
    }
    const head = `${this.#head}Content-Length: ${body.byteLength}\r\n\r\n`;
    const bytes = Buffer.allocUnsafe(head.length + body.byteLength);
    bytes.write(head, 0, 'latin1');
    bytes.set(body, head.length);
    this.sendRequest(bytes, done, context);
  }

  /** The request line and headers of every call, up to and including `Content-Length: `. */
  get requestHead(): Buffer {
    this.#requestHead ??= Buffer.from(`${this.#head}Content-Length: `, 'latin1');
    return this.#requestHead;
  }

  /** Sends a whole request built on {@link requestHead} (length, blank line and body after it). */
  sendRequest<C>(bytes: Buffer, done: CallDone<C>, context: C): void {
    if (this.#closed) {
      process.nextTick(done, new Error('the call connection is closed'), 0, context);
      return;
    }
    this.#pending.push({ done: done as CallDone, context, bytes, retried: false });
    this.#out.push(bytes);
    this.#scheduleFlush();
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
    this.#written = this.#pending.length;
    socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  #connect(): net.Socket {
    // `onread`: reads land in one reused buffer and skip the stream machinery ('data' events).
    const socket = net.connect({
      host: this.#host,
      port: this.#port,
      noDelay: true,
      onread: {
        buffer: this.#readBuffer,
        callback: (n: number, buf: Uint8Array): boolean => {
          this.#onData(socket, (buf as Buffer).subarray(0, n));
          // Bytes kept for the next read must not live in the reused buffer.
          if (this.#buf.length > 0 && this.#buf.buffer === this.#readBuffer.buffer)
            this.#buf = Buffer.from(this.#buf);
          // Nobody waits on these answers (calls are pipelined, fire and forget), so while more
          // are due, read them in batches: a pause of a few ms lets the agent's answers pile up
          // and costs one wake-up instead of one per answer.
          if (this.#pending.length === 0 || this.#readBatchMs <= 0 || this.#socket !== socket) return true;
          this.#pauseTimer = setTimeout(this.#resume, this.#readBatchMs, socket);
          return false;
        },
      },
    });
    socket.setKeepAlive(true);
    this.#socket = socket;
    this.#buf = Buffer.alloc(0);
    this.#bodyLeft = -1;
    this.#written = 0;
    const fail = (err: Error | undefined): void => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      // Requests without a response are resent once on a fresh connection: a keep-alive
      // connection the server closed while idle must not lose a call (updates are idempotent by
      // uuid). A request that fails twice is rejected.
      const error = err ?? new Error('the agent closed the call connection');
      const keep: Pending[] = [];
      const written = this.#written;
      this.#written = 0;
      const all = this.#pending.splice(0);
      for (let i = 0; i < all.length; i++) {
        const p = all[i]!;
        const wasWritten = i < written;
        if (this.#closed || (wasWritten && p.retried)) {
          p.done(error, 0, p.context);
          continue;
        }
        if (wasWritten) p.retried = true;
        keep.push(p);
      }
      this.#pending.push(...keep);
      this.#out = keep.map((p) => p.bytes);
      if (keep.length > 0) this.#scheduleFlush();
    };
    socket.on('error', (err) => fail(err));
    socket.on('close', () => fail(undefined));
    return socket;
  }

  #onData(socket: net.Socket, chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    for (;;) {
      if (this.#bodyLeft < 0) {
        const end = this.#buf.indexOf(CRLF2);
        if (end < 0) {
          if (this.#buf.length > 64 * 1024) socket.destroy(new Error('response head too large'));
          return;
        }
        const head = this.#buf.subarray(0, end).toString('latin1');
        this.#buf = this.#buf.subarray(end + 4);
        const status = Number(head.slice(9, 12));
        if (!Number.isInteger(status)) {
          socket.destroy(new Error(`malformed response: ${head.slice(0, 40)}`));
          return;
        }
        this.#status = status;
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        this.#chunked = !length && /\r\ntransfer-encoding:\s*chunked/i.test(head);
        this.#bodyLeft = length ? Number(length[1]) : 0;
      }
      if (this.#chunked) {
        // Skip chunks until the zero-size one and its trailer.
        const line = this.#buf.indexOf('\r\n');
        if (line < 0) return;
        const size = Number.parseInt(this.#buf.subarray(0, line).toString('latin1'), 16);
        if (size === 0) {
          const trailerEnd = this.#buf.indexOf(CRLF2, line);
          if (trailerEnd < 0) return;
          this.#buf = this.#buf.subarray(trailerEnd + 4);
          this.#chunked = false;
          this.#bodyLeft = 0;
        } else {
          if (this.#buf.length < line + 2 + size + 2) return;
          this.#buf = this.#buf.subarray(line + 2 + size + 2);
          continue;
        }
      } else {
        if (this.#buf.length < this.#bodyLeft) return;
        this.#buf = this.#buf.subarray(this.#bodyLeft);
      }
      this.#bodyLeft = -1;
      const done = this.#pending.shift();
      if (this.#written > 0) this.#written--;
      done?.done(undefined, this.#status, done.context);
      if (this.#buf.length === 0) return;
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#pauseTimer !== undefined) clearTimeout(this.#pauseTimer);
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.destroy();
    this.#written = 0;
    for (const p of this.#pending.splice(0)) p.done(new Error('the call connection is closed'), 0, p.context);
  }
}
