import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, RecordIOError } from './errors.js';
import {
  DEFAULT_MAX_RECORD_BYTES,
  encodeRecord,
  encodeRecords,
  RecordIODecoder,
  readRecords,
} from './record-io.js';

const enc = new TextEncoder();
const ascii = (s: string): Uint8Array => enc.encode(s);
const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

const HEARTBEAT_JSON = '{"type":"HEARTBEAT"}';

/** A few records of both kinds: JSON text, protobuf-ish binary (with LF and digit bytes inside), empty. */
const SAMPLE_RECORDS: Uint8Array[] = [
  ascii(HEARTBEAT_JSON),
  bytes(0x08, 0x08),
  ascii('{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"12220-3440-12532-2345"}}}'),
  new Uint8Array(0),
  bytes(0x0a, 0x31, 0x32, 0x0a, 0x00, 0xff, 0x80),
  Uint8Array.from({ length: 300 }, (_, k) => (k * 7) & 0xff),
  ascii('x'),
];

function decodeChunks(chunks: Uint8Array[], options?: { maxRecordBytes?: number }): Uint8Array[] {
  const decoder = new RecordIODecoder(options);
  const out: Uint8Array[] = [];
  for (const chunk of chunks) out.push(...decoder.push(chunk));
  decoder.end();
  return out;
}

/** Splits `data` at the given (unsorted, possibly duplicate) offsets. */
function splitAt(data: Uint8Array, offsets: number[]): Uint8Array[] {
  const cuts = [...new Set(offsets.map((o) => Math.min(Math.max(o, 0), data.length)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const cut of cuts) {
    chunks.push(data.slice(start, cut));
    start = cut;
  }
  chunks.push(data.slice(start));
  return chunks;
}

/** Copies records to plain arrays so equality ignores views vs copies and Buffer vs Uint8Array. */
const plain = (records: Uint8Array[]): number[][] => records.map((r) => Array.from(r));

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

function expectRecordIOError(err: unknown, code: RecordIOError['code'], message: RegExp): RecordIOError {
  expect(err).toBeInstanceOf(RecordIOError);
  const e = err as RecordIOError;
  expect(e.code).toBe(code);
  expect(e.message).toMatch(message);
  return e;
}

describe('RecordIODecoder', () => {
  const stream = encodeRecords(SAMPLE_RECORDS);

  it('decodes a stream fed whole, with many records per chunk', () => {
    const decoder = new RecordIODecoder();
    const records = decoder.push(stream);
    expect(plain(records)).toEqual(plain(SAMPLE_RECORDS));
    expect(decoder.pendingBytes).toBe(0);
    decoder.end();
  });

  it('decodes a stream fed byte by byte', () => {
    const chunks = Array.from(stream, (b) => bytes(b));
    expect(plain(decodeChunks(chunks))).toEqual(plain(SAMPLE_RECORDS));
  });

  it('decodes a stream split into two at every byte offset', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      expect(plain(decodeChunks([stream.subarray(0, cut), stream.subarray(cut)]))).toEqual(
        plain(SAMPLE_RECORDS),
      );
    }
  });

  it('decodes a stream split into three at every pair of offsets near the first records', () => {
    const limit = 60;
    for (let a = 0; a <= limit; a++) {
      for (let b = a; b <= limit; b++) {
        expect(plain(decodeChunks(splitAt(stream, [a, b])))).toEqual(plain(SAMPLE_RECORDS));
      }
    }
  });

  it('decodes random record lists under random splits (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 30 }),
        fc.array(fc.nat({ max: 10_000 }), { maxLength: 40 }),
        (records, offsets) => {
          const data = encodeRecords(records);
          const chunks = splitAt(
            data,
            offsets.map((o) => o % (data.length + 1)),
          );
          expect(plain(decodeChunks(chunks))).toEqual(plain(records));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes the worked examples', () => {
    expect(plain(decodeChunks([ascii(`20\n${HEARTBEAT_JSON}`)]))).toEqual([
      Array.from(ascii(HEARTBEAT_JSON)),
    ]);
    expect(plain(decodeChunks([bytes(0x32, 0x0a, 0x08, 0x08)]))).toEqual([[0x08, 0x08]]);
  });

  it('accepts an empty record (size 0) and leading zeros', () => {
    const decoder = new RecordIODecoder();
    const records = decoder.push(ascii('0\n0\n003\nabc'));
    expect(records.map((r) => r.length)).toEqual([0, 0, 3]);
    expect(records[0]).toBeInstanceOf(Uint8Array);
    expect(new TextDecoder().decode(records[2])).toBe('abc');
    // An empty record whose LF is the last byte of a chunk completes in that chunk.
    expect(decoder.push(ascii('0\n'))).toHaveLength(1);
    expect(decoder.push(ascii(`${'0'.repeat(19)}1\nz`)).map((r) => Array.from(r))).toEqual([[0x7a]]);
    decoder.end();
  });

  it('returns no records for an empty chunk', () => {
    const decoder = new RecordIODecoder();
    expect(decoder.push(new Uint8Array(0))).toEqual([]);
    expect(decoder.push(ascii('1'))).toEqual([]);
    expect(decoder.push(new Uint8Array(0))).toEqual([]);
    expect(plain(decoder.push(ascii('\nq')))).toEqual([[0x71]]);
  });

  it('returns a record inside a chunk as a view of that chunk (zero-copy)', () => {
    const chunk = encodeRecords([ascii('hello'), ascii('world!')]);
    const records = new RecordIODecoder().push(chunk);
    expect(records).toHaveLength(2);
    for (const record of records) expect(record.buffer).toBe(chunk.buffer);
    expect(records[0]!.byteOffset - chunk.byteOffset).toBe(2);
    expect(records[1]!.byteOffset - chunk.byteOffset).toBe(2 + 5 + 2);
  });

  it('keeps a record zero-copy when a chunk boundary falls right after the LF', () => {
    const decoder = new RecordIODecoder();
    expect(decoder.push(ascii('5\n'))).toEqual([]);
    expect(decoder.pendingBytes).toBe(2);
    const next = ascii('hello3\nab');
    const [record] = decoder.push(next);
    expect(record!.buffer).toBe(next.buffer);
    expect(decoder.pendingBytes).toBe(2 + 2);
  });

  it('assembles a record split across chunks into one buffer of the declared size', () => {
    const decoder = new RecordIODecoder();
    const first = ascii('10\nabc');
    const second = ascii('defg');
    const third = ascii('hij2\nok');
    expect(decoder.push(first)).toEqual([]);
    expect(decoder.pendingBytes).toBe(3 + 3);
    expect(decoder.push(second)).toEqual([]);
    expect(decoder.pendingBytes).toBe(3 + 7);
    const [record, next] = decoder.push(third);
    expect(new TextDecoder().decode(record)).toBe('abcdefghij');
    expect(record!.buffer).not.toBe(first.buffer);
    expect(record!.buffer).not.toBe(third.buffer);
    expect(record!.buffer.byteLength).toBe(10);
    expect(next!.buffer).toBe(third.buffer);
    decoder.end();
  });

  it('accepts a record of exactly maxRecordBytes', () => {
    const payload = Uint8Array.from({ length: 1024 }, (_, k) => k & 0xff);
    const decoder = new RecordIODecoder({ maxRecordBytes: 1024 });
    const records = decoder.push(encodeRecord(payload));
    expect(plain(records)).toEqual([Array.from(payload)]);
  });

  it('rejects maxRecordBytes + 1 from the prefix alone, before any data arrives', () => {
    const decoder = new RecordIODecoder({ maxRecordBytes: 1024 });
    const err = catchError(() => decoder.push(ascii('1025')));
    expectRecordIOError(err, 'RECORDIO_RECORD_TOO_LARGE', /1025.*1024/);
    expect(decoder.pendingBytes).toBe(0);
  });

  it('defaults maxRecordBytes to 16 MiB', () => {
    expect(DEFAULT_MAX_RECORD_BYTES).toBe(16 * 1024 * 1024);
    expect(new RecordIODecoder().maxRecordBytes).toBe(DEFAULT_MAX_RECORD_BYTES);
    const decoder = new RecordIODecoder();
    expect(decoder.push(ascii(`${DEFAULT_MAX_RECORD_BYTES}\n`))).toEqual([]);
    expectRecordIOError(
      catchError(() => new RecordIODecoder().push(ascii(`${DEFAULT_MAX_RECORD_BYTES + 1}\n`))),
      'RECORDIO_RECORD_TOO_LARGE',
      /16777217.*16777216/,
    );
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1024', null])(
    'rejects maxRecordBytes = %s with InvalidOptionsError',
    (value) => {
      const err = catchError(() => new RecordIODecoder({ maxRecordBytes: value as number }));
      expect(err).toBeInstanceOf(InvalidOptionsError);
      expect((err as InvalidOptionsError).code).toBe('INVALID_OPTIONS');
      expect((err as Error).message).toMatch(/maxRecordBytes must be a positive integer/);
    },
  );

  it('rejects a string chunk with InvalidOptionsError', () => {
    const err = catchError(() => new RecordIODecoder().push('20\n' as unknown as Uint8Array));
    expect(err).toBeInstanceOf(InvalidOptionsError);
    expect((err as Error).message).toMatch(/bytes/);
  });

  describe('hostile prefixes', () => {
    it('rejects 99999999999999\\n as too large after a bounded number of bytes', () => {
      const decoder = new RecordIODecoder();
      const err = catchError(() => decoder.push(ascii('99999999999999\n')));
      const e = expectRecordIOError(err, 'RECORDIO_RECORD_TOO_LARGE', /at least 99999999 bytes \(8 digit/);
      expect(e.message).toMatch(/16777216/);
    });

    it('rejects a negative size, naming the byte', () => {
      const err = catchError(() => new RecordIODecoder().push(ascii('-1\n')));
      expectRecordIOError(err, 'RECORDIO_INVALID_PREFIX', /0x2d \('-'\)/);
    });

    it('rejects letters, naming the byte', () => {
      const err = catchError(() => new RecordIODecoder().push(ascii('abc\n')));
      expectRecordIOError(err, 'RECORDIO_INVALID_PREFIX', /0x61 \('a'\)/);
    });

    it('rejects an LF with no digits', () => {
      const err = catchError(() => new RecordIODecoder().push(ascii('\n')));
      expectRecordIOError(err, 'RECORDIO_INVALID_PREFIX', /LF \(0x0a\) with no digits/);
    });

    it('rejects CRLF, naming the carriage return', () => {
      const err = catchError(() => new RecordIODecoder().push(ascii('12\r\n')));
      expectRecordIOError(err, 'RECORDIO_INVALID_PREFIX', /0x0d \('\\r'\).*offset 2/);
    });

    it('rejects a space and a plus sign', () => {
      expectRecordIOError(
        catchError(() => new RecordIODecoder().push(ascii(' 1\n'))),
        'RECORDIO_INVALID_PREFIX',
        /0x20 \(' '\)/,
      );
      expectRecordIOError(
        catchError(() => new RecordIODecoder().push(ascii('+1\n'))),
        'RECORDIO_INVALID_PREFIX',
        /0x2b \('\+'\)/,
      );
    });

    it('rejects a bad prefix after valid records, reporting the stream offset', () => {
      const decoder = new RecordIODecoder();
      expect(decoder.push(ascii('2\nab'))).toHaveLength(1);
      const err = catchError(() => decoder.push(ascii('1\nxy\n')));
      expectRecordIOError(err, 'RECORDIO_INVALID_PREFIX', /0x79 \('y'\) at stream offset 7/);
    });

    it('fails an endless run of digits with no LF after a few bytes, holding almost nothing', () => {
      const decoder = new RecordIODecoder();
      const digits = ascii('7'.repeat(10_000));
      let fed = 0;
      let err: unknown;
      for (let k = 0; k < digits.length && err === undefined; k += 3) {
        try {
          decoder.push(digits.subarray(k, k + 3));
          fed += 3;
          expect(decoder.pendingBytes).toBeLessThanOrEqual(20);
        } catch (e) {
          err = e;
        }
      }
      expectRecordIOError(err, 'RECORDIO_RECORD_TOO_LARGE', /limit maxRecordBytes = 16777216/);
      expect(fed).toBeLessThanOrEqual(9);
    });

    it('caps leading zeros at 20 digits', () => {
      const decoder = new RecordIODecoder();
      const zeros = ascii('0'.repeat(10_000));
      let fed = 0;
      let err: unknown;
      for (let k = 0; k < zeros.length && err === undefined; k += 4) {
        try {
          decoder.push(zeros.subarray(k, k + 4));
          fed += 4;
          expect(decoder.pendingBytes).toBeLessThanOrEqual(20);
        } catch (e) {
          err = e;
        }
      }
      expectRecordIOError(err, 'RECORDIO_INVALID_PREFIX', /more than 20 digits/);
      expect(fed).toBe(20);
    });

    it('poisons the decoder: later push() and end() rethrow the same error', () => {
      const decoder = new RecordIODecoder();
      const first = catchError(() => decoder.push(ascii('-1\n')));
      expectRecordIOError(first, 'RECORDIO_INVALID_PREFIX', /0x2d/);
      expect(catchError(() => decoder.push(ascii('2\nok')))).toBe(first);
      expect(catchError(() => decoder.push(new Uint8Array(0)))).toBe(first);
      expect(catchError(() => decoder.end())).toBe(first);
    });
  });

  describe('end()', () => {
    it('throws TRUNCATED after a partial prefix', () => {
      const decoder = new RecordIODecoder();
      decoder.push(ascii('12'));
      expect(decoder.pendingBytes).toBe(2);
      expectRecordIOError(
        catchError(() => decoder.end()),
        'RECORDIO_TRUNCATED',
        /inside a size prefix: 2 digit\(s\)/,
      );
    });

    it('throws TRUNCATED after partial data, saying how many bytes were expected', () => {
      const decoder = new RecordIODecoder();
      decoder.push(ascii('20\n{"type":'));
      expectRecordIOError(
        catchError(() => decoder.end()),
        'RECORDIO_TRUNCATED',
        /expected 20 data bytes, received 8 \(12 missing\)/,
      );
    });

    it('throws TRUNCATED right after the LF of a non-empty record', () => {
      const decoder = new RecordIODecoder();
      decoder.push(ascii('3\n'));
      expectRecordIOError(
        catchError(() => decoder.end()),
        'RECORDIO_TRUNCATED',
        /expected 3 data bytes/,
      );
    });

    it('is quiet on a record boundary, and on a fresh decoder', () => {
      new RecordIODecoder().end();
      const decoder = new RecordIODecoder();
      decoder.push(encodeRecord(ascii('done')));
      expect(() => decoder.end()).not.toThrow();
    });
  });
});

describe('encodeRecord / encodeRecords', () => {
  it('produces the exact bytes of the worked examples', () => {
    expect(new TextDecoder().decode(encodeRecord(ascii(HEARTBEAT_JSON)))).toBe(`20\n${HEARTBEAT_JSON}`);
    expect(Array.from(encodeRecord(bytes(0x08, 0x08)))).toEqual([0x32, 0x0a, 0x08, 0x08]);
  });

  it('counts bytes, not string length', () => {
    const payload = ascii('héllo ✓'); // 7 characters, 10 bytes
    expect(Array.from(encodeRecord(payload).subarray(0, 3))).toEqual(Array.from(ascii('10\n')));
  });

  it('encodes an empty payload and multi-digit sizes', () => {
    expect(Array.from(encodeRecord(new Uint8Array(0)))).toEqual(Array.from(ascii('0\n')));
    for (const len of [9, 10, 99, 100, 12345]) {
      const framed = encodeRecord(new Uint8Array(len));
      const prefix = `${len}\n`;
      expect(new TextDecoder().decode(framed.subarray(0, prefix.length))).toBe(prefix);
      expect(framed.length).toBe(prefix.length + len);
    }
  });

  it('never lets small results overlap, across slab refills, and allocates large ones alone', () => {
    const outputs: Uint8Array[] = [];
    const expected: number[][] = [];
    for (let k = 0; k < 500; k++) {
      const payload = new Uint8Array(k % 300).fill(k & 0xff);
      const framed = k % 7 === 0 ? encodeRecords([payload, payload]) : encodeRecord(payload);
      outputs.push(framed);
      expected.push(Array.from(framed));
    }
    expect(outputs.map((o) => Array.from(o))).toEqual(expected);
    const framed = encodeRecords(outputs);
    expect(plain(new RecordIODecoder().push(framed))).toEqual(expected);
    const large = encodeRecord(new Uint8Array(5000));
    expect(large.byteOffset).toBe(0);
    expect(large.buffer.byteLength).toBe(5005);
  });

  it('accepts a Buffer payload', () => {
    expect(Array.from(encodeRecord(Buffer.from('hi')))).toEqual(Array.from(ascii('2\nhi')));
  });

  it('concatenates records from any iterable', () => {
    function* gen(): Generator<Uint8Array> {
      yield ascii('a');
      yield new Uint8Array(0);
      yield ascii('bcdefghijkl');
    }
    expect(new TextDecoder().decode(encodeRecords(gen()))).toBe('1\na0\n11\nbcdefghijkl');
    expect(encodeRecords([])).toEqual(new Uint8Array(0));
  });

  it('round-trips with the decoder (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 2000 }), { maxLength: 20 }), (records) => {
        const framed = records.map(encodeRecord);
        const joined = encodeRecords(records);
        expect(Array.from(joined)).toEqual(framed.flatMap((f) => Array.from(f)));
        expect(plain(decodeChunks([joined]))).toEqual(plain(records));
        expect(plain(decodeChunks(framed))).toEqual(plain(records));
      }),
      { numRuns: 200 },
    );
  });

  it('rejects non-bytes', () => {
    expect(catchError(() => encodeRecord('x' as unknown as Uint8Array))).toBeInstanceOf(InvalidOptionsError);
    expect(catchError(() => encodeRecords([ascii('ok'), 'x' as unknown as Uint8Array]))).toBeInstanceOf(
      InvalidOptionsError,
    );
  });
});

async function collect(iterable: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const record of iterable) out.push(record);
  return out;
}

/** A web stream over fixed chunks that records whether (and why) it was cancelled. */
function webStream(chunks: Uint8Array[]): { stream: ReadableStream<Uint8Array>; cancelled: unknown[] } {
  const cancelled: unknown[] = [];
  let k = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[k++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
    cancel(reason) {
      cancelled.push(reason);
    },
  });
  return { stream, cancelled };
}

describe('readRecords', () => {
  const stream = encodeRecords(SAMPLE_RECORDS);
  const chunks = splitAt(stream, [1, 5, 6, 30, 31, 32, 100, 250]);

  it('reads a Node Readable of Buffer chunks', async () => {
    const readable = Readable.from(chunks.map((c) => Buffer.from(c)));
    expect(plain(await collect(readRecords(readable)))).toEqual(plain(SAMPLE_RECORDS));
  });

  it('reads a WHATWG ReadableStream and releases its lock at the end', async () => {
    const { stream: web, cancelled } = webStream(chunks);
    expect(plain(await collect(readRecords(web)))).toEqual(plain(SAMPLE_RECORDS));
    expect(web.locked).toBe(false);
    expect(cancelled).toEqual([]);
  });

  it('reads an async generator', async () => {
    async function* gen(): AsyncGenerator<Uint8Array> {
      yield* chunks;
    }
    expect(plain(await collect(readRecords(gen())))).toEqual(plain(SAMPLE_RECORDS));
  });

  it('cancels the web stream and releases the reader on early break', async () => {
    const { stream: web, cancelled } = webStream(chunks);
    const seen: Uint8Array[] = [];
    for await (const record of readRecords(web)) {
      seen.push(record);
      if (seen.length === 2) break;
    }
    expect(plain(seen)).toEqual(plain(SAMPLE_RECORDS.slice(0, 2)));
    expect(cancelled).toHaveLength(1);
    expect(web.locked).toBe(false);
  });

  it('returns the async iterator on early break (destroying a Node Readable)', async () => {
    const readable = Readable.from(chunks.map((c) => Buffer.from(c)));
    for await (const record of readRecords(readable)) {
      expect(Array.from(record)).toEqual(Array.from(SAMPLE_RECORDS[0]!));
      break;
    }
    expect(readable.destroyed).toBe(true);

    let finalized = false;
    async function* gen(): AsyncGenerator<Uint8Array> {
      try {
        yield* chunks;
      } finally {
        finalized = true;
      }
    }
    for await (const _ of readRecords(gen())) break;
    expect(finalized).toBe(true);
  });

  it('rejects a truncated source with TRUNCATED', async () => {
    const truncated = stream.subarray(0, stream.length - 1);
    const err = await collect(
      readRecords(Readable.from([Buffer.from(truncated)]), { maxRecordBytes: 1024 }),
    ).catch((e: unknown) => e);
    expectRecordIOError(err, 'RECORDIO_TRUNCATED', /expected 1 data bytes, received 0/);

    const { stream: web } = webStream([ascii('5\nab')]);
    expectRecordIOError(
      await collect(readRecords(web)).catch((e: unknown) => e),
      'RECORDIO_TRUNCATED',
      /expected 5 data bytes, received 2/,
    );
    expect(web.locked).toBe(false);
  });

  it('propagates framing errors and cancels the web stream', async () => {
    const { stream: web, cancelled } = webStream([ascii('2\nok'), ascii('-1\n'), ascii('1\nz')]);
    const seen: Uint8Array[] = [];
    const err = await (async () => {
      for await (const record of readRecords(web)) seen.push(record);
    })().catch((e: unknown) => e);
    expectRecordIOError(err, 'RECORDIO_INVALID_PREFIX', /0x2d/);
    expect(plain(seen)).toEqual([Array.from(ascii('ok'))]);
    expect(cancelled).toEqual([err]);
    expect(web.locked).toBe(false);
  });

  it('applies maxRecordBytes', async () => {
    const err = await collect(
      readRecords(Readable.from([Buffer.from('2000\n')]), { maxRecordBytes: 1024 }),
    ).catch((e: unknown) => e);
    expectRecordIOError(err, 'RECORDIO_RECORD_TOO_LARGE', /2000.*1024/);
  });

  it('stops with the signal reason when aborted between records', async () => {
    const controller = new AbortController();
    const reason = new Error('stop now');
    const { stream: web, cancelled } = webStream(chunks);
    const seen: Uint8Array[] = [];
    const err = await (async () => {
      for await (const record of readRecords(web, { signal: controller.signal })) {
        seen.push(record);
        if (seen.length === 1) controller.abort(reason);
      }
    })().catch((e: unknown) => e);
    expect(err).toBe(reason);
    expect(seen).toHaveLength(1);
    expect(cancelled).toEqual([reason]);
    expect(web.locked).toBe(false);
  });

  it('stops with the signal reason when aborted during a pending read', async () => {
    const controller = new AbortController();
    const reason = new Error('gone');
    let finalized = false;
    // A source that yields one record then never produces another chunk.
    async function* stalled(): AsyncGenerator<Uint8Array> {
      try {
        yield ascii('1\na');
        await new Promise(() => {});
      } finally {
        finalized = true;
      }
    }
    const iterator = readRecords(stalled(), { signal: controller.signal });
    expect(Array.from((await iterator.next()).value as Uint8Array)).toEqual([0x61]);
    const next = iterator.next();
    controller.abort(reason);
    await expect(next).rejects.toBe(reason);
    expect(finalized).toBe(false); // still stuck in its await: we did not wait for it

    // The same with a web stream: the pending read is settled by cancelling the stream.
    const web2 = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(ascii('1\nb'));
      },
    });
    const controller2 = new AbortController();
    const it2 = readRecords(web2, { signal: controller2.signal });
    expect((await it2.next()).done).toBe(false);
    const next2 = it2.next();
    await Promise.resolve();
    controller2.abort(reason);
    await expect(next2).rejects.toBe(reason);
    expect(web2.locked).toBe(false);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const reason = new Error('already');
    const { stream: web, cancelled } = webStream(chunks);
    const err = await collect(readRecords(web, { signal: AbortSignal.abort(reason) })).catch(
      (e: unknown) => e,
    );
    expect(err).toBe(reason);
    expect(cancelled).toEqual([reason]);
  });

  it('rejects string chunks with InvalidOptionsError explaining bytes are required', async () => {
    const readable = Readable.from([Buffer.from('2\nok')]).setEncoding('utf8');
    const err = await collect(readRecords(readable as unknown as AsyncIterable<Uint8Array>)).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidOptionsError);
    expect((err as Error).message).toMatch(/bytes.*string.*setEncoding/);
  });

  it('rejects bad sources and options synchronously', () => {
    expect(catchError(() => readRecords({} as unknown as AsyncIterable<Uint8Array>))).toBeInstanceOf(
      InvalidOptionsError,
    );
    expect(catchError(() => readRecords(Readable.from([]), { maxRecordBytes: -1 }))).toBeInstanceOf(
      InvalidOptionsError,
    );
    expect(
      catchError(() => readRecords(Readable.from([]), { signal: 'nope' as unknown as AbortSignal })),
    ).toBeInstanceOf(InvalidOptionsError);
  });
});

describe('RecordIODecoder on hostile input', () => {
  /** `n` runs, scaled by MESOSKIT_PROPERTY_RUNS (relative to its default of 200). */
  const scaledRuns = (n: number): number =>
    Math.max(1, Math.round((n * (Number(process.env.MESOSKIT_PROPERTY_RUNS) || 200)) / 200));

  it('random bytes in random chunks: records or a RecordIOError, nothing else, bounded by the limit (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 16 }),
        fc.integer({ min: 1, max: 64 }),
        (chunks, maxRecordBytes) => {
          const dec = new RecordIODecoder({ maxRecordBytes });
          try {
            for (const chunk of chunks) {
              for (const record of dec.push(chunk)) expect(record.length).toBeLessThanOrEqual(maxRecordBytes);
            }
          } catch (err) {
            expect(err).toBeInstanceOf(RecordIOError);
          }
        },
      ),
      { numRuns: scaledRuns(2000) },
    );
  });
});
