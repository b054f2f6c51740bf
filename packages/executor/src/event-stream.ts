/**
 * The executor's SUBSCRIBE connection, on a plain TCP socket: writes one POST, reads the
 * response head, then hands the de-chunked body bytes to the caller as they arrive.
 *
 * Mesos answers SUBSCRIBE with `200`, `Transfer-Encoding: chunked` and one RecordIO record per
 * chunk, for as long as the executor lives, and ends it with the terminating `0` chunk (leaving
 * the TCP connection open). Node's HTTP client costs a parser callback, a stream push and an
 * event per chunk; this reader costs a few index lookups, which matters because every task
 * brings at least two events (LAUNCH and ACKNOWLEDGED).
 *
 * @module
 */
import net from 'node:net';

/** Callbacks of one stream request. */
export interface StreamHandlers {
  /** The response head arrived. */
  onHead(status: number, headers: ReadonlyMap<string, string>): void;
  /** Body bytes (de-chunked): a view valid only during the call (the read buffer is reused). */
  onBody(bytes: Buffer): void;
  /**
   * Called once: the body ended (`error` undefined), or the connection failed or was destroyed
   * (before or after the head).
   */
  onEnd(error: Error | undefined): void;
  /**
   * Asked after each read: how many ms to wait before reading again (0 or undefined: at once).
   * A short pause lets small writes of the server pile up into one read.
   */
  pauseAfterRead?(): number;
}

const CRLF = Buffer.from('\r\n');
const CRLF2 = Buffer.from('\r\n\r\n');
const MAX_HEAD_BYTES = 64 * 1024;
const READ_BUFFER_BYTES = 64 * 1024;

/** Where the reader is in the response. */
const Body = {
  /** Reading the response head. */
  Head: 0,
  /** Reading a chunk-size line. */
  Size: 1,
  /** Reading chunk data (`left` bytes to go). */
  Data: 2,
  /** Reading the CRLF after chunk data. */
  DataEnd: 3,
  /** Reading the trailer after the last chunk. */
  Trailer: 4,
  /** `Content-Length` body (`left` bytes to go). */
  Length: 5,
  /** Body until the connection closes. */
  UntilClose: 6,
  Done: 7,
} as const;
type BodyState = (typeof Body)[keyof typeof Body];

/** One POST whose response body is streamed; `destroy()` ends it (calling `onEnd`). */
export class StreamRequest {
  readonly #socket: net.Socket;
  readonly #handlers: StreamHandlers;
  #state: BodyState = Body.Head;
  #left = 0;
  #buf: Buffer | undefined;
  #ended = false;
  #pauseTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #resume = (): void => {
    this.#pauseTimer = undefined;
    if (!this.#ended) this.#socket.resume();
  };

  constructor(url: URL, head: string, body: Uint8Array, handlers: StreamHandlers) {
    this.#handlers = handlers;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // `onread`: reads land in one reused buffer and skip the stream machinery ('data' events).
    const socket = net.connect({
      host,
      port: Number(url.port || 80),
      noDelay: true,
      onread: {
        buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
        callback: (n: number, buf: Uint8Array): boolean => {
          this.#onData(buf as Buffer, n);
          const pause = this.#ended ? 0 : (handlers.pauseAfterRead?.() ?? 0);
          if (pause <= 0) return true;
          this.#pauseTimer = setTimeout(this.#resume, pause);
          return false;
        },
      },
    });
    this.#socket = socket;
    socket.on('error', (err) => this.#end(err));
    socket.on('close', () => {
      if (this.#state === Body.UntilClose) this.#end(undefined);
      else this.#end(new Error('the agent closed the connection'));
    });
    socket.write(
      Buffer.concat([Buffer.from(`${head}Content-Length: ${body.byteLength}\r\n\r\n`, 'latin1'), body]),
    );
  }

  /** Ends the request (the callbacks get `onEnd` with `error`, if not ended yet). */
  destroy(error?: Error): void {
    this.#end(error ?? new Error('the stream was closed'));
  }

  #end(error: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#state = Body.Done;
    if (this.#pauseTimer !== undefined) clearTimeout(this.#pauseTimer);
    this.#socket.destroy();
    this.#handlers.onEnd(error);
  }

  /** `read[0, n)`: valid during this call only (the buffer is reused), so kept bytes are copied. */
  #onData(read: Buffer, n: number): void {
    const chunk = read.subarray(0, n);
    const buf = this.#buf === undefined ? chunk : Buffer.concat([this.#buf, chunk]);
    this.#buf = undefined;
    let p = 0;
    while (p < buf.length && !this.#ended) {
      switch (this.#state) {
        case Body.Head: {
          const end = buf.indexOf(CRLF2, p);
          if (end < 0) {
            if (buf.length - p > MAX_HEAD_BYTES) {
              this.#end(new Error('response head too large'));
              return;
            }
            this.#buf = Buffer.from(buf.subarray(p));
            return;
          }
          const head = buf.toString('latin1', p, end);
          p = end + 4;
          const status = Number(head.slice(9, 12));
          if (!head.startsWith('HTTP/1.') || !Number.isInteger(status)) {
            this.#end(new Error(`malformed response: ${JSON.stringify(head.slice(0, 40))}`));
            return;
          }
          const headers = new Map<string, string>();
          for (const line of head.split('\r\n').slice(1)) {
            const colon = line.indexOf(':');
            if (colon > 0)
              headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
          }
          const length = headers.get('content-length');
          if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) this.#state = Body.Size;
          else if (length !== undefined) {
            this.#left = Number(length);
            this.#state = Body.Length;
          } else this.#state = Body.UntilClose;
          this.#handlers.onHead(status, headers);
          if (this.#state === Body.Length && this.#left === 0) {
            this.#end(undefined);
            return;
          }
          break;
        }
        case Body.Size: {
          const eol = buf.indexOf(CRLF, p);
          if (eol < 0) {
            if (buf.length - p > 1024) {
              this.#end(new Error('chunk size line too long'));
              return;
            }
            this.#buf = Buffer.from(buf.subarray(p));
            return;
          }
          const size = Number.parseInt(buf.toString('latin1', p, eol), 16);
          p = eol + 2;
          if (!Number.isSafeInteger(size) || size < 0) {
            this.#end(new Error('malformed chunk size'));
            return;
          }
          if (size === 0) this.#state = Body.Trailer;
          else {
            this.#left = size;
            this.#state = Body.Data;
          }
          break;
        }
        case Body.Data:
        case Body.Length: {
          const n = Math.min(this.#left, buf.length - p);
          const bytes = p === 0 && n === buf.length ? buf : buf.subarray(p, p + n);
          p += n;
          this.#left -= n;
          if (this.#left === 0) this.#state = this.#state === Body.Data ? Body.DataEnd : Body.Done;
          this.#handlers.onBody(bytes);
          if (this.#state === Body.Done) {
            this.#end(undefined);
            return;
          }
          break;
        }
        case Body.DataEnd: {
          if (buf.length - p < 2) {
            this.#buf = Buffer.from(buf.subarray(p));
            return;
          }
          if (buf[p] !== 0x0d || buf[p + 1] !== 0x0a) {
            this.#end(new Error('malformed chunk end'));
            return;
          }
          p += 2;
          this.#state = Body.Size;
          break;
        }
        case Body.Trailer: {
          // Trailer fields (none from Mesos) end with an empty line.
          if (buf.length - p >= 2 && buf[p] === 0x0d && buf[p + 1] === 0x0a) {
            this.#end(undefined);
            return;
          }
          const end = buf.indexOf(CRLF2, p);
          if (end >= 0) {
            this.#end(undefined);
            return;
          }
          this.#buf = Buffer.from(buf.subarray(p));
          return;
        }
        case Body.UntilClose: {
          const bytes = p === 0 ? buf : buf.subarray(p);
          p = buf.length;
          this.#handlers.onBody(bytes);
          break;
        }
        default:
          return;
      }
    }
  }
}
