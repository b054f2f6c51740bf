import { decode as libDecode, encode as libEncode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeLaunchEnvelope,
  decodeMessageEnvelope,
  decodeResultEnvelope,
  ENVELOPE_VERSION,
  encodeLaunchEnvelope,
  encodeMessageEnvelope,
  encodeResultEnvelope,
  type LaunchEnvelope,
} from './envelope.js';
import { EnvelopeError, type EnvelopeErrorCode, InvalidOptionsError } from './errors.js';
import { MAX_CAUSE_DEPTH, toWireFailure, type WireFailure } from './failure.js';
import {
  bigintToBytes,
  bytesToBigint,
  DEFAULT_MAX_BYTES,
  decodeMsgpack,
  EXT_BIGINT,
  EXT_MAP,
  EXT_SET,
  encodeMsgpack,
  MAX_DEPTH,
} from './msgpack.js';

/** `n` runs, scaled by MESOSKIT_PROPERTY_RUNS (relative to its default of 200) for the full hostile run. */
const scaledRuns = (n: number): number =>
  Math.max(1, Math.round((n * (Number(process.env.MESOSKIT_PROPERTY_RUNS) || 200)) / 200));
/** A vitest timeout for `n` scaled runs: 20 s plus 1 ms a run. */
const scaledTimeout = (n: number): number => 20_000 + scaledRuns(n);

// ---------------------------------------------------------------------------------------------
// Helpers

const utf8 = new TextEncoder();

/** Builds bytes from numbers (bytes), strings (fixstr, header included) and byte arrays. */
function mp(...parts: Array<number | string | Uint8Array | number[]>): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === 'number') out.push(part);
    else if (typeof part === 'string') {
      const bytes = utf8.encode(part);
      if (bytes.length > 31) throw new Error('mp: use str8 for long strings');
      out.push(0xa0 | bytes.length, ...bytes);
    } else out.push(...part);
  }
  return Uint8Array.from(out);
}

/** The fixed launch header `[1, 'a.b', 1, 1, <payload>]` before a payload. */
const LAUNCH_HEAD = [0x95, 0x01, 0xa3, 0x61, 0x2e, 0x62, 0x01, 0x01];

function launchWith(payload: unknown): LaunchEnvelope {
  return { v: 1, task: 'a.b', taskVersion: 1, attempt: 1, input: payload };
}

function roundTrip(input: unknown): unknown {
  return decodeLaunchEnvelope(encodeLaunchEnvelope(launchWith(input))).input;
}

function envelopeError(fn: () => unknown, code: EnvelopeErrorCode, message?: string | RegExp): EnvelopeError {
  let error: unknown;
  try {
    fn();
  } catch (err) {
    error = err;
  }
  expect(error, 'expected an EnvelopeError').toBeInstanceOf(EnvelopeError);
  const e = error as EnvelopeError;
  expect({ code: e.code, message: e.message }).toMatchObject({ code });
  if (typeof message === 'string') expect(e.message).toContain(message);
  else if (message !== undefined) expect(e.message).toMatch(message);
  return e;
}

const decoders = [decodeLaunchEnvelope, decodeResultEnvelope, decodeMessageEnvelope] as const;

function nestArrays(depth: number, inner: unknown = 1): unknown {
  let v = inner;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

// ---------------------------------------------------------------------------------------------
// Wire layout

describe('wire layout', () => {
  it('is a fixed-order MessagePack array with the version first', () => {
    expect(ENVELOPE_VERSION).toBe(1);
    const bytes = encodeLaunchEnvelope({ task: 'a.b', taskVersion: 1, attempt: 1, input: null });
    expect([...bytes]).toEqual([...LAUNCH_HEAD, 0xc0]);
    expect(libDecode(bytes)).toEqual([1, 'a.b', 1, 1, null]);
    expect(libDecode(encodeResultEnvelope({ ok: true, output: 'x' }))).toEqual([1, true, 'x']);
    expect(libDecode(encodeResultEnvelope({ ok: false, failure: toWireFailure(new Error('e')) }))).toEqual([
      1,
      false,
      { name: 'Error', message: 'e', retryable: true },
    ]);
    expect(libDecode(encodeMessageEnvelope({ kind: 'progress', taskId: 't-1', data: 0.5 }))).toEqual([
      1,
      'progress',
      't-1',
      0.5,
    ]);
    expect(libDecode(encodeMessageEnvelope({ kind: 'message', data: {} }))).toEqual([1, 'message', null, {}]);
  });

  it('reads envelopes written by another MessagePack encoder, any integer and string widths', () => {
    const bytes = libEncode([1, 'thumbs.resize', 300, 70000, { url: 'u', list: [1, 2] }]);
    expect(decodeLaunchEnvelope(bytes)).toEqual({
      v: 1,
      task: 'thumbs.resize',
      taskVersion: 300,
      attempt: 70000,
      input: { url: 'u', list: [1, 2] },
    });
    const long = 'x'.repeat(100);
    // str 8 task name, uint 16 version, array 16 header
    const wide = mp(
      0xdc,
      0x00,
      0x05,
      0xcc,
      0x01,
      0xd9,
      100,
      utf8.encode(long),
      0xcd,
      0x00,
      0x02,
      0xd0,
      0x03,
      0xc0,
    );
    expect(decodeLaunchEnvelope(wide)).toEqual({ v: 1, task: long, taskVersion: 2, attempt: 3, input: null });
    const utf8Task = encodeLaunchEnvelope(launchWith(1));
    expect(decodeLaunchEnvelope(utf8Task).task).toBe('a.b');
  });

  it('writes non-ASCII and long task names and ids correctly', () => {
    const task = `t${'é'.repeat(150)}`;
    expect(
      decodeLaunchEnvelope(encodeLaunchEnvelope({ task, taskVersion: 1, attempt: 1, input: 0 })).task,
    ).toBe(task);
    const taskId = `task-${'ü'.repeat(40)}-${'x'.repeat(300)}`;
    expect(decodeMessageEnvelope(encodeMessageEnvelope({ kind: 'progress', taskId, data: 1 })).taskId).toBe(
      taskId,
    );
    const big = { task: 'a', taskVersion: 2 ** 40, attempt: 2 ** 20, input: 0 };
    expect(decodeLaunchEnvelope(encodeLaunchEnvelope(big))).toEqual({ v: 1, ...big });
  });
});

// ---------------------------------------------------------------------------------------------
// Round trips

describe('round trips', () => {
  it('launch envelopes', () => {
    const e = {
      v: 1,
      task: 'pinspider.profile',
      taskVersion: 3,
      attempt: 2,
      input: { url: 'https://x/u/1', n: 3 },
    };
    const decoded = decodeLaunchEnvelope(encodeLaunchEnvelope(e as LaunchEnvelope));
    expect(decoded).toEqual(e);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(decoded.input)).toBe(Object.prototype);
  });

  it('result envelopes, both kinds', () => {
    expect(decodeResultEnvelope(encodeResultEnvelope({ ok: true, output: { followers: 12 } }))).toEqual({
      v: 1,
      ok: true,
      output: { followers: 12 },
    });
    expect(decodeResultEnvelope(encodeResultEnvelope({ v: 1, ok: true, output: undefined }))).toEqual({
      v: 1,
      ok: true,
      output: null,
    });
    const failure = toWireFailure(
      Object.assign(new Error('outer', { cause: new TypeError('inner') }), {
        code: 'E_OUT',
        retryable: false,
        details: { at: new Date(5), ids: new Set([1n]) },
      }),
      { includeStack: true },
    );
    const decoded = decodeResultEnvelope(encodeResultEnvelope({ ok: false, failure }));
    expect(decoded).toEqual({ v: 1, ok: false, failure });
    expect(decoded.ok === false && decoded.failure.cause?.stack).toMatch(/^TypeError: inner/);
  });

  it('result envelopes send only the known failure fields', () => {
    const failure = { name: 'E', message: 'm', retryable: true, secret: 'x' } as WireFailure;
    expect(decodeResultEnvelope(encodeResultEnvelope({ ok: false, failure }))).toEqual({
      v: 1,
      ok: false,
      failure: { name: 'E', message: 'm', retryable: true },
    });
  });

  it('result envelopes fall back to no details when the details cannot be sent', () => {
    const failure: WireFailure = {
      name: 'E',
      message: 'm',
      retryable: false,
      details: { fn: () => 1 },
      cause: { name: 'C', message: 'c', retryable: true, details: nestArrays(70) },
    };
    expect(decodeResultEnvelope(encodeResultEnvelope({ ok: false, failure }))).toEqual({
      v: 1,
      ok: false,
      failure: {
        name: 'E',
        message: 'm',
        retryable: false,
        cause: { name: 'C', message: 'c', retryable: true },
      },
    });
  });

  it('message envelopes, in both directions', () => {
    const send = {
      v: 1 as const,
      kind: 'message' as const,
      taskId: 'pinspider.profile-42-1',
      data: { stage: 'fetched' },
    };
    expect(decodeMessageEnvelope(encodeMessageEnvelope(send))).toEqual(send);
    const progress = { v: 1 as const, kind: 'progress' as const, taskId: 't', data: 0.25 };
    expect(decodeMessageEnvelope(encodeMessageEnvelope(progress))).toEqual(progress);
    const toExecutor = decodeMessageEnvelope(encodeMessageEnvelope({ kind: 'message', data: ['drain'] }));
    expect(toExecutor).toEqual({ v: 1, kind: 'message', data: ['drain'] });
    expect('taskId' in toExecutor).toBe(false);
  });

  it('Dates, as MessagePack timestamps (ext -1)', () => {
    const dates = [new Date(0), new Date(1700000000123), new Date(-1), new Date(-8.64e15), new Date(8.64e15)];
    expect(roundTrip(dates)).toEqual(dates);
    // A standard timestamp 32 from any encoder: 2023-11-14T22:13:20Z.
    expect(decodeMsgpack(mp(0xd6, 0xff, 0x65, 0x53, 0xf1, 0x00))).toEqual(new Date(1700000000000));
    expect([...encodeMsgpack(new Date(1700000000000))]).toEqual([0xd6, 0xff, 0x65, 0x53, 0xf1, 0x00]);
  });

  it('bigints of any size (ext 1, two’s complement)', () => {
    const values = [
      0n,
      1n,
      -1n,
      127n,
      128n,
      -128n,
      -129n,
      255n,
      256n,
      2n ** 63n - 1n,
      -(2n ** 63n),
      2n ** 64n,
      2n ** 64n + 1n,
      -(2n ** 64n) - 1n,
      3n ** 200n,
      -(7n ** 150n),
    ];
    expect(roundTrip(values)).toEqual(values);
    expect([...bigintToBytes(0n)]).toEqual([0]);
    expect([...bigintToBytes(-1n)]).toEqual([0xff]);
    expect([...bigintToBytes(128n)]).toEqual([0x00, 0x80]);
    expect([...bigintToBytes(-129n)]).toEqual([0xff, 0x7f]);
    expect([...encodeMsgpack(-2n)]).toEqual([0xd4, EXT_BIGINT, 0xfe]);
    expect(bytesToBigint(Uint8Array.from([0x00, 0x00, 0x01]))).toBe(1n); // non-minimal is accepted
    fc.assert(fc.property(fc.bigInt(), (n) => bytesToBigint(bigintToBytes(n)) === n));
  });

  it('Maps with keys of any type (ext 2) and Sets (ext 3)', () => {
    const objKey = { k: 1 };
    const map = new Map<unknown, unknown>([
      [1, 'number'],
      ['1', 'string'],
      [objKey, 'object'],
      [[1, 2], 'array'],
      [new Date(7), 'date'],
      [10n ** 30n, 'bigint'],
      [null, 'nil'],
      [true, 'bool'],
      ['__proto__', 'safe in a Map'],
      [new Uint8Array([9]), 'bytes'],
    ]);
    const decoded = roundTrip(map) as Map<unknown, unknown>;
    expect(decoded).toBeInstanceOf(Map);
    expect([...decoded.entries()]).toEqual([...map.entries()]);
    expect(decoded.get(1)).toBe('number');
    expect(decoded.get('__proto__')).toBe('safe in a Map');
    const set = new Set<unknown>([1, 'a', null, 2n, new Date(3), [1], { a: 1 }]);
    expect(roundTrip(set)).toEqual(set);
    expect([...encodeMsgpack(new Set([1]))]).toEqual([0xd5, EXT_SET, 0x91, 0x01]);
    expect([...encodeMsgpack(new Map([[1, 2]]))]).toEqual([0xc7, 3, EXT_MAP, 0x92, 0x01, 0x02]);
    expect(roundTrip(new Map())).toEqual(new Map());
    expect(roundTrip(new Set())).toEqual(new Set());
  });

  it('binary as Uint8Array (a Buffer comes back as a Uint8Array), never aliasing the input', () => {
    const value = {
      raw: new Uint8Array([0, 1, 255]),
      buf: Buffer.from('hello'),
      empty: new Uint8Array(0),
      big: new Uint8Array(70000).fill(7),
      nested: [{ b: new Uint8Array([1]) }],
    };
    const bytes = encodeLaunchEnvelope(launchWith(value));
    const decoded = decodeLaunchEnvelope(bytes).input as typeof value;
    expect(decoded.buf).toEqual(new Uint8Array(Buffer.from('hello')));
    expect(decoded.buf).not.toBeInstanceOf(Buffer);
    expect(decoded.raw).toEqual(value.raw);
    expect(decoded.big).toEqual(value.big);
    expect(decoded.nested[0]?.b).toEqual(new Uint8Array([1]));
    bytes.fill(0);
    expect([...decoded.raw]).toEqual([0, 1, 255]);
  });

  it('nested combinations', () => {
    const value = {
      when: new Date(1234),
      ids: new Set([1n, -(2n ** 70n)]),
      byKey: new Map<unknown, unknown>([
        [new Date(1), new Map([[2n, new Set([new Uint8Array([1, 2])])]])],
        [{ compound: [1, 'x'] }, [new Date(2), { deep: new Map([[null, [new Set()]]]) }]],
      ]),
      list: [1, -1, 0.5, 2 ** 53 + 2, -(2 ** 60), Number.NaN, Number.POSITIVE_INFINITY, 'ü', true, null],
      unicode: '日本語 😀 \u0000',
    };
    expect(roundTrip(value)).toEqual(value);
  });

  it('leaves out undefined properties and turns other undefined into null; -0 becomes 0', () => {
    expect(roundTrip({ a: undefined, b: 1 })).toEqual({ b: 1 });
    expect(Object.keys(roundTrip({ a: undefined, b: 1 }) as object)).toEqual(['b']);
    expect(roundTrip([undefined, 1])).toEqual([null, 1]);
    expect(roundTrip(new Map([[undefined, undefined]]))).toEqual(new Map([[null, null]]));
    expect(roundTrip(undefined)).toBeNull();
    expect(Object.is(roundTrip(-0), 0)).toBe(true);
  });

  it('encodes class instances as plain maps of their own enumerable properties', () => {
    class Point {
      constructor(
        public x: number,
        public y: number,
      ) {}
      get norm(): number {
        return Math.hypot(this.x, this.y);
      }
    }
    const decoded = roundTrip(new Point(3, 4));
    expect(decoded).toEqual({ x: 3, y: 4 });
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
  });

  it('accepts nesting up to the limit, on both sides', () => {
    // The payload is at depth 1; a scalar inside 63 arrays is at depth 64.
    expect(roundTrip(nestArrays(MAX_DEPTH - 1))).toEqual(nestArrays(MAX_DEPTH - 1));
    let maps: unknown = 1;
    for (let i = 0; i < MAX_DEPTH - 1; i++) maps = new Map([[i, maps]]);
    expect(roundTrip(maps)).toEqual(maps);
    let objects: unknown = 1;
    for (let i = 0; i < MAX_DEPTH - 1; i++) objects = { o: objects };
    expect(roundTrip(objects)).toEqual(objects);
  });

  it('round-trips anything MessagePack can carry (property)', () => {
    const key = fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__');
    const scalar = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.maxSafeInteger(),
      fc.double().map((d) => (Object.is(d, -0) ? 0 : d)),
      fc.string({ unit: 'binary' }),
      fc.bigInt(),
      fc.date({ noInvalidDate: true }),
      fc.uint8Array({ maxLength: 16 }),
    );
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        scalar,
        tie('array'),
        tie('object'),
        tie('map'),
        tie('set'),
      ),
      array: fc.array(tie('value'), { maxLength: 5 }),
      object: fc.dictionary(key, tie('value'), { maxKeys: 5 }),
      map: fc
        .array(fc.tuple(tie('value'), tie('value')), { maxLength: 4 })
        .map((entries) => new Map(entries)),
      set: fc.array(tie('value'), { maxLength: 4 }).map((items) => new Set(items)),
    }));
    fc.assert(
      fc.property(value, fc.integer({ min: 1, max: 2 ** 31 }), (input, attempt) => {
        const e = { v: 1 as const, task: 'prop.test', taskVersion: 1, attempt, input };
        expect(decodeLaunchEnvelope(encodeLaunchEnvelope(e))).toEqual(e);
      }),
      { numRuns: 500 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The plain-value fast path against the library

describe('plain values decode exactly as the library decodes them', () => {
  it('on hand-picked encodings of every width', () => {
    const f32 = mp(0xca, 0x3f, 0xc0, 0x00, 0x00); // 1.5
    const samples: Uint8Array[] = [
      mp(0xcc, 0xff),
      mp(0xcd, 0xff, 0xff),
      mp(0xce, 0xff, 0xff, 0xff, 0xff),
      mp(0xcf, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
      mp(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // beyond 2^53: the nearest double
      mp(0xd0, 0x80),
      mp(0xd1, 0x80, 0x00),
      mp(0xd2, 0x80, 0x00, 0x00, 0x00),
      mp(0xd3, 0xff, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01),
      mp(0xd3, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00),
      f32,
      mp(0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0), // -0
      mp(0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0), // NaN
      mp(0xd9, 3, utf8.encode('abc')),
      mp(0xda, 0x00, 3, utf8.encode('xyz')),
      mp(0xdb, 0x00, 0x00, 0x00, 3, utf8.encode('日')),
      mp(0xdc, 0x00, 0x02, 0x01, 0x02),
      mp(0xdd, 0x00, 0x00, 0x00, 0x01, 0xc0),
      mp(0xde, 0x00, 0x01, 'k', 0xc3),
      mp(0xdf, 0x00, 0x00, 0x00, 0x01, 'k', f32),
      mp(0x82, 'a', 0x01, 'a', 0x02), // a repeated key: the last wins
      mp(0x83, 0x01, 'one', 0xff, 'minus one', 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 'one and a half'),
      mp(0x81, 'constructor', 0x81, 'toString', 0x01),
      mp(0x80),
      mp(0x90),
      mp(0xa0),
    ];
    for (const bytes of samples) {
      expect(decodeMsgpack(bytes), Buffer.from(bytes).toString('hex')).toEqual(libDecode(bytes));
    }
    expect(Object.is(decodeMsgpack(samples[11]!), -0)).toBe(true);
  });

  it('on random JSON-shaped values (property)', () => {
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        fc.integer(),
        fc.double().map((d) => (Object.is(d, -0) ? 0 : d)),
        fc.maxSafeInteger(),
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.string({ unit: 'grapheme-ascii', minLength: 14, maxLength: 300 }),
        tie('array'),
        tie('object'),
      ),
      array: fc.array(tie('value'), { maxLength: 20 }),
      object: fc.dictionary(
        fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('a', 'b', 'url', 'n', '0', '1')),
        tie('value'),
        { maxKeys: 20 },
      ),
    }));
    fc.assert(
      fc.property(json.value, (value) => {
        fc.pre(!JSON.stringify(value ?? null).includes('"__proto__"'));
        const bytes = libEncode(value);
        const decoded = decodeMsgpack(bytes);
        expect(decoded).toEqual(libDecode(bytes));
        expect(decoded).toEqual(value);
      }),
      { numRuns: 1000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Buffers and re-entrancy

describe('buffers', () => {
  it('survives an envelope buffer being transferred away', () => {
    const first = encodeLaunchEnvelope(launchWith({ a: 1 }));
    const buffer = first.buffer as ArrayBuffer;
    structuredClone(buffer, { transfer: [buffer] });
    expect(first.buffer.byteLength).toBe(0);
    expect(roundTrip({ b: 2 })).toEqual({ b: 2 });
  });

  it('returns independent buffers, and handles large payloads', () => {
    const a = encodeLaunchEnvelope(launchWith('a'));
    const b = encodeLaunchEnvelope(launchWith('b'));
    a.fill(0);
    expect(decodeLaunchEnvelope(b).input).toBe('b');
    const big = { s: 'x'.repeat(3 * 1024 * 1024), list: Array.from({ length: 5000 }, (_, i) => i) };
    expect(roundTrip(big)).toEqual(big);
    expect(roundTrip({ after: true })).toEqual({ after: true });
  });

  it('copes with a getter that encodes while encoding', () => {
    const input = {
      get inner() {
        return decodeLaunchEnvelope(encodeLaunchEnvelope(launchWith(new Map([[1, 'nested']])))).input;
      },
      outer: new Map([[2, new Set(['x'])]]),
    };
    expect(roundTrip(input)).toEqual({
      inner: new Map([[1, 'nested']]),
      outer: new Map([[2, new Set(['x'])]]),
    });
  });

  it('uses a separate decoder per maxBytes', () => {
    const bytes = encodeLaunchEnvelope(launchWith(new Map([[1, new Uint8Array(100)]])));
    for (const maxBytes of [bytes.length, bytes.length + 1, 1 << 20, DEFAULT_MAX_BYTES]) {
      expect(decodeLaunchEnvelope(bytes, { maxBytes }).input).toEqual(new Map([[1, new Uint8Array(100)]]));
    }
    envelopeError(() => decodeLaunchEnvelope(bytes, { maxBytes: bytes.length - 1 }), 'ENVELOPE_MALFORMED');
  });
});

// ---------------------------------------------------------------------------------------------
// Encoding errors

describe('encoding errors', () => {
  it('names invalid envelope fields', () => {
    const base = { task: 'a', taskVersion: 1, attempt: 1, input: null };
    envelopeError(() => encodeLaunchEnvelope({ ...base, task: '' }), 'ENVELOPE_ENCODE', 'field task');
    envelopeError(
      () => encodeLaunchEnvelope({ ...base, task: 'x'.repeat(201) }),
      'ENVELOPE_ENCODE',
      'field task',
    );
    envelopeError(
      () => encodeLaunchEnvelope({ ...base, taskVersion: 0 }),
      'ENVELOPE_ENCODE',
      'field taskVersion',
    );
    envelopeError(() => encodeLaunchEnvelope({ ...base, attempt: 1.5 }), 'ENVELOPE_ENCODE', 'field attempt');
    envelopeError(
      () => encodeLaunchEnvelope({ ...base, v: 2 as 1 }),
      'ENVELOPE_ENCODE',
      'launch envelope version 2 cannot be written',
    );
    envelopeError(() => encodeResultEnvelope({ ok: 'yes' } as never), 'ENVELOPE_ENCODE', 'field ok');
    envelopeError(
      () => encodeResultEnvelope({ ok: false, failure: { name: 'E' } as WireFailure }),
      'ENVELOPE_ENCODE',
      'failure.message must be a string',
    );
    envelopeError(
      () => encodeMessageEnvelope({ kind: 'other' as 'message', data: 1 }),
      'ENVELOPE_ENCODE',
      'kind',
    );
    envelopeError(
      () => encodeMessageEnvelope({ kind: 'message', taskId: '', data: 1 }),
      'ENVELOPE_ENCODE',
      'taskId',
    );
    envelopeError(
      () => encodeMessageEnvelope({ kind: 'progress', data: 1 }),
      'ENVELOPE_ENCODE',
      '"progress" needs a taskId',
    );
    envelopeError(() => encodeLaunchEnvelope(null as never), 'ENVELOPE_ENCODE');
  });

  it('rejects values MessagePack cannot carry', () => {
    envelopeError(() => encodeLaunchEnvelope(launchWith({ f: () => 1 })), 'ENVELOPE_ENCODE', /Function/);
    envelopeError(() => encodeLaunchEnvelope(launchWith([Symbol('s')])), 'ENVELOPE_ENCODE', /Symbol/);
    envelopeError(
      () => encodeLaunchEnvelope(launchWith(new Date(Number.NaN))),
      'ENVELOPE_ENCODE',
      'invalid Date',
    );
    const throwing = {
      get boom() {
        throw new Error('getter failed');
      },
    };
    const e = envelopeError(
      () => encodeLaunchEnvelope(launchWith(throwing)),
      'ENVELOPE_ENCODE',
      'getter failed',
    );
    expect((e.cause as Error).message).toBe('getter failed');
  });

  it('rejects cycles and too-deep values, through arrays, objects, Maps and Sets', () => {
    const arr: unknown[] = [];
    arr.push(arr);
    envelopeError(() => encodeLaunchEnvelope(launchWith(arr)), 'ENVELOPE_ENCODE', /deeper than 64 levels/);
    const obj: Record<string, unknown> = {};
    obj.self = obj;
    envelopeError(() => encodeLaunchEnvelope(launchWith(obj)), 'ENVELOPE_ENCODE', /cycle/);
    const map = new Map<unknown, unknown>();
    map.set('self', map);
    envelopeError(() => encodeLaunchEnvelope(launchWith(map)), 'ENVELOPE_ENCODE', /deeper than 64 levels/);
    const set = new Set<unknown>();
    set.add([{ s: set }]);
    envelopeError(() => encodeLaunchEnvelope(launchWith(set)), 'ENVELOPE_ENCODE', /deeper than 64 levels/);
    envelopeError(() => encodeLaunchEnvelope(launchWith(nestArrays(MAX_DEPTH))), 'ENVELOPE_ENCODE', /deeper/);
    envelopeError(() => encodeLaunchEnvelope(launchWith(nestArrays(10_000))), 'ENVELOPE_ENCODE', /deeper/);
    let maps: unknown = 1;
    for (let i = 0; i < MAX_DEPTH; i++) maps = new Map([[i, maps]]);
    envelopeError(() => encodeLaunchEnvelope(launchWith(maps)), 'ENVELOPE_ENCODE', /deeper than 64 levels/);
    // Mixed: 40 arrays inside 40 Sets, each counted.
    let mixed: unknown = nestArrays(40);
    for (let i = 0; i < 40; i++) mixed = new Set([mixed]);
    envelopeError(() => encodeLaunchEnvelope(launchWith(mixed)), 'ENVELOPE_ENCODE', /deeper than 64 levels/);
    // The encoder recovers after errors.
    expect(roundTrip({ fine: new Map([[1, new Set([2])]]) })).toEqual({ fine: new Map([[1, new Set([2])]]) });
  });
});

// ---------------------------------------------------------------------------------------------
// Hostile input

describe('decoding hostile input', () => {
  const valid = encodeLaunchEnvelope(
    launchWith({
      s: 'text',
      n: [1, 2.5, -3],
      d: new Date(1),
      m: new Map([[1n, new Set(['x'])]]),
      b: new Uint8Array(3),
    }),
  );

  it('truncated bytes: every proper prefix fails as ENVELOPE_MALFORMED', () => {
    for (let end = 0; end < valid.length; end++) {
      envelopeError(() => decodeLaunchEnvelope(valid.subarray(0, end)), 'ENVELOPE_MALFORMED');
    }
    expect(decodeLaunchEnvelope(valid).task).toBe('a.b');
  });

  it('trailing bytes fail as ENVELOPE_MALFORMED', () => {
    envelopeError(() => decodeLaunchEnvelope(mp(...valid, 0xc0)), 'ENVELOPE_MALFORMED', /trailing/);
  });

  it('a __proto__ key fails as ENVELOPE_INVALID and changes no prototype', () => {
    const payloads = [
      mp(0x81, '__proto__', 0x81, 'polluted', 0xc3), // { "__proto__": { polluted: true } }
      mp(0x81, 'a', 0x91, 0x81, '__proto__', 0x81, 'polluted', 0xc3), // nested
      mp(0x81, 0xd9, 9, utf8.encode('__proto__'), 0xc3), // str 8 key
      mp(0xde, 0x00, 0x01, 0xda, 0x00, 9, utf8.encode('__proto__'), 0xc3), // map 16, str 16 key
      mp(0x82, 'ok', 0x01, '__proto__', 0x80), // second key
    ];
    for (const payload of payloads) {
      envelopeError(() => decodeLaunchEnvelope(mp(LAUNCH_HEAD, payload)), 'ENVELOPE_INVALID', '"__proto__"');
      envelopeError(() => decodeMsgpack(payload), 'ENVELOPE_INVALID', '"__proto__"');
    }
    // A map of maps whose key merely resembles the forbidden one is fine.
    expect(decodeMsgpack(mp(0x81, '__proto_x', 0x01))).toEqual({ __proto_x: 1 });
    expect(decodeMsgpack(mp(0x81, 'constructor', 0x81, 'prototype', 0x01))).toEqual({
      constructor: { prototype: 1 },
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    // What the library itself does with such a key, which the pre-scan makes moot.
    expect(() => libDecode(payloads[0]!)).toThrow(/__proto__ is not allowed/);
  });

  it('an own __proto__ property fails to decode but not to encode (documented)', () => {
    const hostile = JSON.parse('{"__proto__": {"polluted": true}}') as unknown;
    const bytes = encodeLaunchEnvelope(launchWith(hostile));
    envelopeError(() => decodeLaunchEnvelope(bytes), 'ENVELOPE_INVALID', '"__proto__"');
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('10,000-deep nesting fails as ENVELOPE_MALFORMED without overflowing the stack', () => {
    const deep = 10_000;
    const arrays = mp(LAUNCH_HEAD, new Array(deep).fill(0x91), 0xc0);
    envelopeError(() => decodeLaunchEnvelope(arrays), 'ENVELOPE_MALFORMED', 'deeper than 64 levels');
    const mapParts: number[] = [];
    for (let i = 0; i < deep; i++) mapParts.push(0x81, 0xa1, 0x6b);
    envelopeError(
      () => decodeLaunchEnvelope(mp(LAUNCH_HEAD, mapParts, 0xc0)),
      'ENVELOPE_MALFORMED',
      'deeper',
    );
    // Sets nested through their extension payloads: each level is an ext 32 around a 1-array.
    const LEVEL = 7; // ext 32 header (6 bytes) + fixarray of 1
    const inner = new Uint8Array(deep * LEVEL + 1);
    const view = new DataView(inner.buffer);
    for (let i = 0; i < deep; i++) {
      const at = i * LEVEL;
      inner[at] = 0xc9;
      view.setUint32(at + 1, (deep - i - 1) * LEVEL + 2); // this level's array and everything inside
      inner[at + 5] = EXT_SET;
      inner[at + 6] = 0x91;
    }
    inner[deep * LEVEL] = 0xc0;
    expect(decodeMsgpack(inner.subarray((deep - MAX_DEPTH + 1) * LEVEL))).toBeInstanceOf(Set);
    envelopeError(() => decodeLaunchEnvelope(mp(LAUNCH_HEAD, inner)), 'ENVELOPE_MALFORMED', 'deeper');
    envelopeError(() => decodeMsgpack(inner), 'ENVELOPE_MALFORMED', 'deeper');
  });

  it('depth is counted the same way on both sides: 64 levels decode, 65 do not', () => {
    const ok = mp(new Array(MAX_DEPTH - 1).fill(0x91), 0x01);
    expect(decodeMsgpack(ok)).toEqual(nestArrays(MAX_DEPTH - 1));
    envelopeError(
      () => decodeMsgpack(mp(new Array(MAX_DEPTH).fill(0x91), 0x01)),
      'ENVELOPE_MALFORMED',
      'deeper',
    );
    expect(decodeMsgpack(mp(new Array(MAX_DEPTH - 1).fill(0x91), 0x90))).toEqual(
      nestArrays(MAX_DEPTH - 1, []),
    );
  });

  it.each([
    ['str 32', [0xdb, 0x7f, 0xff, 0xff, 0xff]],
    ['bin 32', [0xc6, 0x7f, 0xff, 0xff, 0xff]],
    ['array 32', [0xdd, 0x7f, 0xff, 0xff, 0xff]],
    ['map 32', [0xdf, 0x7f, 0xff, 0xff, 0xff]],
    ['ext 32', [0xc9, 0x7f, 0xff, 0xff, 0xff, EXT_MAP]],
  ])('a 2 GiB %s length header in a 10-byte buffer fails fast', (_name, header) => {
    const tenBytes = mp(header, new Array(10 - header.length).fill(0x01));
    expect(tenBytes.length).toBe(10);
    const started = performance.now();
    envelopeError(() => decodeMsgpack(tenBytes), 'ENVELOPE_MALFORMED', /exceeds|declares/);
    envelopeError(() => decodeLaunchEnvelope(mp(LAUNCH_HEAD, tenBytes)), 'ENVELOPE_MALFORMED');
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('a 2 GiB top-level array header fails as ENVELOPE_MALFORMED', () => {
    for (const decode of decoders) {
      envelopeError(
        () => decode(mp(0xdd, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5)),
        'ENVELOPE_MALFORMED',
        'declares',
      );
    }
  });

  it('a wrong or missing version fails as ENVELOPE_VERSION', () => {
    envelopeError(
      () => decodeLaunchEnvelope(mp(0x95, 0x02, 'a.b', 0x01, 0x01, 0xc0)),
      'ENVELOPE_VERSION',
      'launch envelope version 2 is not supported (expected 1)',
    );
    // The version is checked before the shape, so a later layout still reports its version.
    envelopeError(() => decodeResultEnvelope(mp(0x92, 0x07, 0xc3)), 'ENVELOPE_VERSION', 'version 7 is not');
    envelopeError(
      () => decodeMessageEnvelope(mp(0x94, '1', 'message', 0xc0, 0xc0)),
      'ENVELOPE_VERSION',
      '"1"',
    );
    envelopeError(
      () => decodeLaunchEnvelope(mp(0x95, 0x90, 'a', 1, 1, 0xc0)),
      'ENVELOPE_VERSION',
      'version (an array) is not supported',
    );
    envelopeError(() => decodeLaunchEnvelope(mp(0x90)), 'ENVELOPE_VERSION', 'no version');
    envelopeError(
      () => decodeLaunchEnvelope(libEncode({ v: 2, task: 'a' })),
      'ENVELOPE_VERSION',
      'version 2',
    );
    envelopeError(() => decodeLaunchEnvelope(libEncode({ task: 'a' })), 'ENVELOPE_VERSION', 'no version');
    envelopeError(
      () => decodeLaunchEnvelope(libEncode({ v: 1, task: 'a' })),
      'ENVELOPE_INVALID',
      'got a map',
    );
  });

  it('a non-array top level fails as ENVELOPE_INVALID', () => {
    for (const bytes of [
      mp(0x01),
      mp('text'),
      mp(0xc0),
      mp(0xc3),
      mp(0xc4, 0x01, 0x00),
      mp(0xd4, 0x01, 0x00),
    ]) {
      for (const decode of decoders)
        envelopeError(() => decode(bytes), 'ENVELOPE_INVALID', /must be a MessagePack array/);
    }
  });

  it('a wrong field count or mistyped field fails as ENVELOPE_INVALID naming it', () => {
    const cases: Array<[(b: Uint8Array) => unknown, Uint8Array, string]> = [
      [
        decodeLaunchEnvelope,
        mp(0x94, 0x01, 'a', 1, 1),
        'launch envelope must be an array of 5 fields, got 4',
      ],
      [decodeLaunchEnvelope, mp(0x96, 0x01, 'a', 1, 1, 0xc0, 0xc0), 'got 6'],
      [decodeLaunchEnvelope, mp(0x95, 0x01, 0x05, 1, 1, 0xc0), 'field task must be a string'],
      [decodeLaunchEnvelope, mp(0x95, 0x01, '', 1, 1, 0xc0), 'field task'],
      [
        decodeLaunchEnvelope,
        mp(0x95, 0x01, 0x90, 1, 1, 0xc0),
        'field task must be a string of 1 to 200 characters, got an array',
      ],
      [
        decodeLaunchEnvelope,
        mp(0x95, 0x01, 'a', 0, 1, 0xc0),
        'field taskVersion must be a positive integer, got number 0',
      ],
      [decodeLaunchEnvelope, mp(0x95, 0x01, 'a', 'x', 1, 0xc0), 'field taskVersion'],
      [
        decodeLaunchEnvelope,
        mp(0x95, 0x01, 'a', 1, 0xff, 0xc0),
        'field attempt must be a positive integer, got number -1',
      ],
      [
        decodeLaunchEnvelope,
        mp(0x95, 0x01, 'a', 1, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xc0),
        'field attempt',
      ],
      [
        decodeResultEnvelope,
        mp(0x93, 0x01, 0x01, 0xc0),
        'result envelope field ok must be a boolean, got number 1',
      ],
      [decodeResultEnvelope, mp(0x92, 0x01, 0xc3), 'result envelope must be an array of 3 fields, got 2'],
      [
        decodeResultEnvelope,
        mp(0x93, 0x01, 0xc2, 'oops'),
        'result envelope field failure must be a map, got string',
      ],
      [
        decodeResultEnvelope,
        mp(0x93, 0x01, 0xc2, 0x83, 'name', 'E', 'message', 'm', 'retryable', 0xc0),
        'failure.retryable must be a boolean, got nil',
      ],
      [
        decodeResultEnvelope,
        mp(0x93, 0x01, 0xc2, 0x84, 'name', 'E', 'message', 'm', 'retryable', 0xc3, 'cause', 0x80),
        'failure.cause.name must be a string',
      ],
      [
        decodeMessageEnvelope,
        mp(0x94, 0x01, 'other', 0xc0, 0xc0),
        'field kind must be "message" or "progress"',
      ],
      [
        decodeMessageEnvelope,
        mp(0x94, 0x01, 'message', 0x07, 0xc0),
        'field taskId must be a non-empty string or nil',
      ],
      [decodeMessageEnvelope, mp(0x94, 0x01, 'message', '', 0xc0), 'field taskId'],
      [decodeMessageEnvelope, mp(0x94, 0x01, 'progress', 0xc0, 0xc0), '"progress" has no taskId'],
      [decodeMessageEnvelope, mp(0x93, 0x01, 'message', 0xc0), 'got 3'],
    ];
    for (const [decode, bytes, message] of cases)
      envelopeError(() => decode(bytes), 'ENVELOPE_INVALID', message);
  });

  it('a too-long cause chain fails as ENVELOPE_INVALID', () => {
    let failure: WireFailure = { name: 'E', message: 'root', retryable: true };
    for (let i = 0; i < MAX_CAUSE_DEPTH + 1; i++)
      failure = { name: 'E', message: `m${i}`, retryable: true, cause: failure };
    const bytes = mp(0x93, 0x01, 0xc2, libEncode(failure));
    envelopeError(() => decodeResultEnvelope(bytes), 'ENVELOPE_INVALID', 'more than 32 causes');
  });

  it('unsupported MessagePack fails with a typed error', () => {
    envelopeError(() => decodeMsgpack(mp(0xc1)), 'ENVELOPE_MALFORMED', '0xc1');
    envelopeError(() => decodeMsgpack(mp(0xd4, 0x09, 0x00)), 'ENVELOPE_INVALID', 'extension type 9');
    envelopeError(() => decodeMsgpack(mp(0xd5, 0xff, 0x00, 0x00)), 'ENVELOPE_MALFORMED', 'timestamp');
    envelopeError(() => decodeMsgpack(mp(0xc7, 0x00, EXT_BIGINT)), 'ENVELOPE_MALFORMED', 'bigint');
    envelopeError(
      () => decodeMsgpack(mp(0xd4, EXT_MAP, 0x01)),
      'ENVELOPE_MALFORMED',
      'not a MessagePack array',
    );
    envelopeError(() => decodeMsgpack(mp(0xd5, EXT_MAP, 0x91, 0x01)), 'ENVELOPE_MALFORMED', 'odd number');
    envelopeError(
      () => decodeMsgpack(mp(0xd6, EXT_SET, 0x91, 0x01, 0x01, 0x01)),
      'ENVELOPE_MALFORMED',
      'does not end',
    );
    envelopeError(() => decodeMsgpack(mp(0xd5, EXT_SET, 0x90, 0x01)), 'ENVELOPE_MALFORMED', 'trailing');
    envelopeError(() => decodeMsgpack(mp(0x81, 0x90, 0x01)), 'ENVELOPE_INVALID', 'map key is an array');
    envelopeError(() => decodeMsgpack(mp(0x81, 0xc0, 0x01)), 'ENVELOPE_INVALID', 'map key is nil');
    envelopeError(() => decodeMsgpack(mp(0x81, 0xd4, EXT_BIGINT, 0x01, 0x01)), 'ENVELOPE_INVALID', 'map key');
    // A timestamp 96 beyond the range of a Date.
    const far = mp(0xc7, 12, 0xff, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    envelopeError(() => decodeMsgpack(far), 'ENVELOPE_INVALID', 'out of the range');
    expect(decodeMsgpack(mp(0x82, 0x01, 'int key', 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 'float key'))).toEqual(
      {
        1: 'int key',
        1.5: 'float key',
      },
    );
  });

  it('enforces maxBytes', () => {
    const bytes = encodeLaunchEnvelope(launchWith('x'.repeat(100)));
    envelopeError(
      () => decodeLaunchEnvelope(bytes, { maxBytes: 50 }),
      'ENVELOPE_MALFORMED',
      'exceeds the limit of 50',
    );
    expect(decodeLaunchEnvelope(bytes, { maxBytes: bytes.length }).input).toBe('x'.repeat(100));
    expect(DEFAULT_MAX_BYTES).toBe(16 * 1024 * 1024);
    expect(() => decodeLaunchEnvelope(bytes, { maxBytes: 0 })).toThrow(InvalidOptionsError);
    expect(() => decodeLaunchEnvelope(bytes, { maxBytes: Number.NaN })).toThrow(InvalidOptionsError);
  });

  it('rejects input that is not bytes or is empty', () => {
    for (const decode of decoders) {
      envelopeError(() => decode('abc' as unknown as Uint8Array), 'ENVELOPE_MALFORMED', 'Uint8Array');
      envelopeError(() => decode(null as unknown as Uint8Array), 'ENVELOPE_MALFORMED', 'Uint8Array');
      envelopeError(() => decode(new Uint8Array(0)), 'ENVELOPE_MALFORMED', 'empty');
    }
  });

  it(
    'random bytes never throw anything but EnvelopeError (property)',
    () => {
      const check = (bytes: Uint8Array) => {
        for (const decode of decoders) {
          try {
            decode(bytes);
          } catch (err) {
            if (!(err instanceof EnvelopeError)) throw err;
          }
        }
        try {
          decodeMsgpack(bytes);
        } catch (err) {
          if (!(err instanceof EnvelopeError)) throw err;
        }
      };
      fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), check), { numRuns: scaledRuns(3000) });
      // Random bytes after a valid header reach the payload decoder more often.
      const heads = [
        LAUNCH_HEAD,
        [0x93, 0x01, 0xc3],
        [0x93, 0x01, 0xc2],
        [0x94, 0x01, 0xa7, ...utf8.encode('message'), 0xc0],
      ];
      fc.assert(
        fc.property(fc.constantFrom(...heads), fc.uint8Array({ maxLength: 48 }), (head, tail) =>
          check(mp(head, tail)),
        ),
        { numRuns: scaledRuns(3000) },
      );
      // Mutations of a valid envelope: flipped bytes and cuts.
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
            minLength: 1,
            maxLength: 4,
          }),
          (flips) => {
            const bytes = valid.slice();
            for (const [at, value] of flips) bytes[at] = value;
            check(bytes);
          },
        ),
        { numRuns: scaledRuns(3000) },
      );
      expect(Object.prototype).not.toHaveProperty('polluted');
    },
    scaledTimeout(3000),
  );
});
