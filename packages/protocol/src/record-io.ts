/**
 * RecordIO framing, the way Mesos streams events over a long-lived HTTP response:
 *
 * ```text
 * stream      = *record
 * record      = record-size LF record-data
 * record-size = 1*DIGIT      ; ASCII decimal byte count of record-data
 * ```
 *
 * There is no delimiter after the data, and chunk boundaries mean nothing: a record may span
 * chunks, a chunk may hold many records and even the size digits may be split.
 *
 * @module
 */

import { InvalidOptionsError, RecordIOError } from './errors.js';

/** The default cap on one record's declared size: 16 MiB. */
export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;

/** Options of {@link RecordIODecoder}. */
export interface RecordIODecoderOptions {
  /**
   * The largest record (data bytes, not counting the prefix) the decoder accepts. A prefix that
   * declares more fails with `RECORDIO_RECORD_TOO_LARGE` as soon as the digits read so far exceed
   * it, before any of the record's data is buffered. A positive integer.
   *
   * @default 16 MiB (`DEFAULT_MAX_RECORD_BYTES`)
   */
  maxRecordBytes?: number;
}

/** Options of {@link readRecords}: the decoder options plus an abort signal. */
export interface ReadRecordsOptions extends RecordIODecoderOptions {
  /** Aborting stops the iteration: the pending `next()` rejects with the signal's `reason`. */
  signal?: AbortSignal;
}

const LF = 0x0a;
const ZERO = 0x30;
/** Bounds leading zeros: no valid size needs more digits than this. */
const MAX_PREFIX_DIGITS = 20;

/**
 * An incremental RecordIO decoder: push byte chunks in, get complete records out.
 *
 * Records are returned zero-copy whenever possible: a record that lies wholly inside one chunk
 * is a view (`subarray`) of that chunk and aliases its memory, so **callers must not mutate or
 * reuse a chunk after pushing it** while its records are in use. Only a record split across
 * chunks is assembled, into a fresh buffer allocated once at the declared size.
 *
 * The size prefix is validated byte by byte as it arrives, so a hostile stream fails after a
 * bounded number of bytes with bounded memory: a non-digit byte, an LF with no digits before it
 * and a prefix of more than 20 digits fail with `RECORDIO_INVALID_PREFIX`; a size above
 * `maxRecordBytes` fails with `RECORDIO_RECORD_TOO_LARGE` as soon as the digits seen so far
 * exceed it.
 *
 * After any error the decoder is poisoned: every later `push()` or `end()` throws the same error.
 */
export class RecordIODecoder {
  /** The largest record size this decoder accepts, in bytes. */
  readonly maxRecordBytes: number;

  /** False while reading a size prefix, true while reading a record's data. */
  #inData = false;
  /** The size parsed so far (prefix state) or the declared size (data state). */
  #size = 0;
  /** Prefix digits seen for the current record. */
  #digits = 0;
  /** The buffer of a record split across chunks, allocated at the declared size. */
  #buf: Uint8Array | null = null;
  /** Data bytes of the current record received so far. */
  #filled = 0;
  /** Stream offset of the first byte of the next chunk, for error messages. */
  #offset = 0;
  #error: RecordIOError | null = null;

  /** @throws {InvalidOptionsError} when `maxRecordBytes` is not a positive integer. */
  constructor(options?: RecordIODecoderOptions) {
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new InvalidOptionsError(
        `RecordIODecoder options must be an object, got ${describeValue(options)}`,
      );
    }
    const max = options?.maxRecordBytes;
    if (max !== undefined && !(Number.isSafeInteger(max) && max > 0)) {
      throw new InvalidOptionsError(
        `RecordIODecoder option maxRecordBytes must be a positive integer, got ${describeValue(max)}`,
      );
    }
    this.maxRecordBytes = max ?? DEFAULT_MAX_RECORD_BYTES;
  }

  /**
   * Bytes of the current, incomplete record received so far (prefix digits, the LF once seen,
   * and data bytes). Zero on a record boundary. For diagnostics.
   */
  get pendingBytes(): number {
    return this.#inData ? this.#digits + 1 + this.#filled : this.#digits;
  }

  /**
   * Feeds the next chunk of the stream and returns the records it completes, in order (possibly
   * none). Records wholly inside `chunk` are views of it; do not mutate `chunk` afterwards.
   *
   * @throws {RecordIOError} `RECORDIO_INVALID_PREFIX` or `RECORDIO_RECORD_TOO_LARGE` when the
   *   stream breaks the framing (records completed earlier in the same chunk are discarded with
   *   the error), or the earlier error if the decoder is already poisoned.
   * @throws {InvalidOptionsError} when `chunk` is not a `Uint8Array`.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#error !== null) throw this.#error;
    if (!(chunk instanceof Uint8Array)) throw notBytes('RecordIODecoder.push()', chunk);
    const out: Uint8Array[] = [];
    const n = chunk.length;
    if (n === 0) return out;
    let i = 0;

    if (this.#inData) {
      const size = this.#size;
      const buf = this.#buf;
      if (buf === null) {
        // The previous chunk ended right after the LF: the record may still fit in this one.
        if (n < size) {
          const next = new Uint8Array(size);
          next.set(chunk);
          this.#buf = next;
          this.#filled = n;
          this.#offset += n;
          return out;
        }
        out.push(chunk.subarray(0, size));
        i = size;
      } else {
        const filled = this.#filled;
        const need = size - filled;
        if (n < need) {
          buf.set(chunk, filled);
          this.#filled = filled + n;
          this.#offset += n;
          return out;
        }
        buf.set(n === need ? chunk : chunk.subarray(0, need), filled);
        out.push(buf);
        this.#buf = null;
        i = need;
      }
      this.#inData = false;
      this.#size = 0;
      this.#digits = 0;
      this.#filled = 0;
    }

    const max = this.maxRecordBytes;
    let size = this.#size;
    let digits = this.#digits;
    while (i < n) {
      // Size prefix: digits up to an LF, checked as they arrive.
      let b = chunk[i++]!;
      while (b !== LF) {
        const d = b - ZERO;
        if (d < 0 || d > 9) throw this.#fail(invalidByte(b, digits, this.#offset + i - 1));
        if (++digits > MAX_PREFIX_DIGITS) throw this.#fail(tooManyDigits(this.#offset + i - 1));
        size = size * 10 + d;
        if (size > max) throw this.#fail(tooLarge(size, digits, max, this.#offset + i - 1));
        if (i === n) {
          this.#size = size;
          this.#digits = digits;
          this.#offset += n;
          return out;
        }
        b = chunk[i++]!;
      }
      if (digits === 0) throw this.#fail(emptyPrefix(this.#offset + i - 1));

      // Record data.
      const end = i + size;
      if (end <= n) {
        out.push(chunk.subarray(i, end));
        i = end;
        size = 0;
        digits = 0;
      } else {
        this.#inData = true;
        this.#size = size;
        this.#digits = digits;
        if (i < n) {
          const buf = new Uint8Array(size);
          buf.set(chunk.subarray(i));
          this.#buf = buf;
          this.#filled = n - i;
        }
        this.#offset += n;
        return out;
      }
    }
    // On a record boundary.
    this.#size = size;
    this.#digits = digits;
    this.#offset += n;
    return out;
  }

  /**
   * Declares the end of the stream. Returns quietly on a record boundary.
   *
   * @throws {RecordIOError} `RECORDIO_TRUNCATED` when a partial prefix or partial record is
   *   pending (the decoder is then poisoned), or the earlier error if already poisoned.
   */
  end(): void {
    if (this.#error !== null) throw this.#error;
    if (this.#inData) {
      const size = this.#size;
      const filled = this.#filled;
      throw this.#fail(
        new RecordIOError(
          'RECORDIO_TRUNCATED',
          `RecordIO stream ended inside a record: expected ${size} data bytes, received ${filled} (${size - filled} missing)`,
        ),
      );
    }
    if (this.#digits > 0) {
      throw this.#fail(
        new RecordIOError(
          'RECORDIO_TRUNCATED',
          `RecordIO stream ended inside a size prefix: ${this.#digits} digit(s) pending (value so far ${this.#size}) and no LF`,
        ),
      );
    }
  }

  #fail(err: RecordIOError): RecordIOError {
    this.#error = err;
    this.#buf = null;
    return err;
  }
}

function describeByte(b: number): string {
  const hex = `0x${b.toString(16).padStart(2, '0')}`;
  if (b === 0x0d) return `${hex} ('\\r')`;
  if (b === 0x09) return `${hex} ('\\t')`;
  if (b >= 0x20 && b < 0x7f) return `${hex} ('${String.fromCharCode(b)}')`;
  return hex;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return `a string (${JSON.stringify(value.slice(0, 40))})`;
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object (${Object.prototype.toString.call(value)})`;
  return `${typeof value} ${String(value)}`;
}

function invalidByte(b: number, digits: number, offset: number): RecordIOError {
  return new RecordIOError(
    'RECORDIO_INVALID_PREFIX',
    `Invalid RecordIO size prefix: byte ${describeByte(b)} at stream offset ${offset} (prefix position ${digits}); a prefix must be ASCII digits followed by LF (0x0a)`,
  );
}

function tooManyDigits(offset: number): RecordIOError {
  return new RecordIOError(
    'RECORDIO_INVALID_PREFIX',
    `Invalid RecordIO size prefix: more than ${MAX_PREFIX_DIGITS} digits (at stream offset ${offset})`,
  );
}

function emptyPrefix(offset: number): RecordIOError {
  return new RecordIOError(
    'RECORDIO_INVALID_PREFIX',
    `Invalid RecordIO size prefix: LF (0x0a) with no digits before it at stream offset ${offset}`,
  );
}

function tooLarge(size: number, digits: number, max: number, offset: number): RecordIOError {
  return new RecordIOError(
    'RECORDIO_RECORD_TOO_LARGE',
    `RecordIO record too large: size prefix declares at least ${size} bytes (${digits} digit(s) read, at stream offset ${offset}), above the limit maxRecordBytes = ${max}`,
  );
}

function notBytes(where: string, value: unknown): InvalidOptionsError {
  if (typeof value === 'string') {
    return new InvalidOptionsError(
      `${where} needs bytes (Uint8Array chunks) but got a string; RecordIO sizes count bytes, so read the stream without an encoding (do not call setEncoding())`,
    );
  }
  return new InvalidOptionsError(`${where} needs Uint8Array chunks, got ${describeValue(value)}`);
}

function decimalDigits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Writes `n` as `digits` ASCII decimal digits at `pos`; returns the position after them. */
function writeDecimal(out: Uint8Array, pos: number, digits: number, n: number): number {
  const end = pos + digits;
  for (let k = end - 1; k >= pos; k--) {
    const q = Math.floor(n / 10);
    out[k] = ZERO + (n - q * 10);
    n = q;
  }
  return end;
}

/** Outputs up to this many bytes are carved from a shared slab instead of their own ArrayBuffer. */
const POOLED_MAX_BYTES = 1024;
const SLAB_BYTES = 8 * 1024;
let slab: ArrayBuffer | null = null;
let slabUsed = SLAB_BYTES;

/**
 * A fresh region of `len` bytes for an encoder to fill completely. A separate ArrayBuffer per
 * small record costs far more than the copy (each gets its own zeroed backing store), so small
 * regions are carved from a shared slab, like Node's `Buffer.allocUnsafe` pool.
 */
function allocate(len: number): Uint8Array {
  if (len > POOLED_MAX_BYTES) return new Uint8Array(len);
  if (SLAB_BYTES - slabUsed < len || slab === null) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, len);
  slabUsed += len;
  return out;
}

/**
 * Frames one payload as a RecordIO record, `<decimal byte length>\n<payload>`, in a single new
 * region of memory. Small results (up to 1 KiB) are views into a shared 8 KiB slab, like Node's
 * pooled `Buffer`s: they never overlap each other, but their `byteOffset` may be non-zero, so
 * honour `byteOffset`/`byteLength` when going through `.buffer`.
 *
 * @throws {InvalidOptionsError} when `payload` is not a `Uint8Array`.
 */
export function encodeRecord(payload: Uint8Array): Uint8Array {
  if (!(payload instanceof Uint8Array)) throw notBytes('encodeRecord()', payload);
  const len = payload.length;
  const digits = decimalDigits(len);
  const out = allocate(digits + 1 + len);
  const pos = writeDecimal(out, 0, digits, len);
  out[pos] = LF;
  out.set(payload, pos + 1);
  return out;
}

/**
 * Frames several payloads as consecutive RecordIO records in a single new region of memory (the
 * concatenation of {@link encodeRecord} of each; small results share a slab the same way).
 *
 * @throws {InvalidOptionsError} when a payload is not a `Uint8Array`.
 */
export function encodeRecords(payloads: Iterable<Uint8Array>): Uint8Array {
  const list = Array.isArray(payloads) ? (payloads as readonly Uint8Array[]) : Array.from(payloads);
  let total = 0;
  for (let k = 0; k < list.length; k++) {
    const p = list[k];
    if (!(p instanceof Uint8Array)) throw notBytes(`encodeRecords() (payload ${k})`, p);
    total += decimalDigits(p.length) + 1 + p.length;
  }
  const out = allocate(total);
  let pos = 0;
  for (let k = 0; k < list.length; k++) {
    const p = list[k]!;
    pos = writeDecimal(out, pos, decimalDigits(p.length), p.length);
    out[pos++] = LF;
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** A byte stream {@link readRecords} accepts. */
export type RecordIOSource = AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;

/**
 * Adapts a byte stream to an async iterable of RecordIO records.
 *
 * `source` is any `AsyncIterable<Uint8Array>` (a Node `Readable` without an encoding is one) or a
 * WHATWG `ReadableStream<Uint8Array>`. The iteration owns the source: leaving the loop early
 * (`break`, `return`, a thrown error or an abort) cancels the web stream and releases its lock,
 * or calls `return()` on the async iterator (which destroys a Node `Readable`).
 *
 * Records may be views of the source's chunks (see {@link RecordIODecoder}).
 *
 * @throws {InvalidOptionsError} synchronously for bad options or a source of the wrong kind;
 *   during iteration when the source yields strings or other non-bytes.
 * @throws {RecordIOError} during iteration when the stream breaks the framing, including
 *   `RECORDIO_TRUNCATED` when the source ends inside a record.
 * @throws the signal's `reason` when `options.signal` aborts.
 */
export function readRecords(
  source: RecordIOSource,
  options?: ReadRecordsOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  const decoder = new RecordIODecoder(options);
  const signal = options?.signal;
  if (
    signal !== undefined &&
    (signal === null || typeof signal !== 'object' || typeof signal.addEventListener !== 'function')
  ) {
    throw new InvalidOptionsError(
      `readRecords() option signal must be an AbortSignal, got ${describeValue(signal)}`,
    );
  }
  if (source !== null && typeof source === 'object') {
    if (typeof (source as ReadableStream<Uint8Array>).getReader === 'function') {
      return readWebStream(source as ReadableStream<Uint8Array>, decoder, signal);
    }
    if (typeof (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
      return readAsyncIterable(source as AsyncIterable<Uint8Array>, decoder, signal);
    }
  }
  throw new InvalidOptionsError(
    `readRecords() needs an AsyncIterable<Uint8Array> or a ReadableStream<Uint8Array>, got ${describeValue(source)}`,
  );
}

/** Resolves like `promise`, or rejects with the signal's reason if it aborts first. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

async function* readWebStream(
  stream: ReadableStream<Uint8Array>,
  decoder: RecordIODecoder,
  signal: AbortSignal | undefined,
): AsyncGenerator<Uint8Array, void, undefined> {
  const reader = stream.getReader();
  let finished = false;
  let failure: unknown;
  try {
    for (;;) {
      signal?.throwIfAborted();
      const read = reader.read();
      const { done, value } = signal === undefined ? await read : await raceAbort(read, signal);
      if (done) break;
      if (!(value instanceof Uint8Array)) throw notBytes('readRecords()', value);
      const records = decoder.push(value);
      for (let k = 0; k < records.length; k++) {
        yield records[k]!;
        signal?.throwIfAborted();
      }
    }
    decoder.end();
    finished = true;
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    if (!finished) {
      // Early exit or failure: tell the producer we are done. Cancelling also settles a pending read.
      try {
        await reader.cancel(failure);
      } catch {
        // The stream may already be errored; its error is not ours to report.
      }
    }
    reader.releaseLock();
  }
}

async function* readAsyncIterable(
  source: AsyncIterable<Uint8Array>,
  decoder: RecordIODecoder,
  signal: AbortSignal | undefined,
): AsyncGenerator<Uint8Array, void, undefined> {
  const iterator = source[Symbol.asyncIterator]();
  let finished = false;
  let reading = false;
  try {
    for (;;) {
      signal?.throwIfAborted();
      reading = true;
      const next = iterator.next();
      const result = signal === undefined ? await next : await raceAbort(next, signal);
      reading = false;
      if (result.done) break;
      const chunk: unknown = result.value;
      if (!(chunk instanceof Uint8Array)) throw notBytes('readRecords()', chunk);
      const records = decoder.push(chunk);
      for (let k = 0; k < records.length; k++) {
        yield records[k]!;
        signal?.throwIfAborted();
      }
    }
    finished = true;
  } finally {
    if (!finished && typeof iterator.return === 'function') {
      if (reading) {
        // A next() is still pending (aborted mid-read, or the source threw): an async generator
        // would queue return() behind it, so do not wait for it.
        Promise.resolve(iterator.return()).catch(() => {});
      } else {
        try {
          await iterator.return();
        } catch {
          // Closing failed; the error that ended the loop (if any) is the one to report.
        }
      }
    }
  }
  decoder.end();
}
