/**
 * Protobuf (proto2 binary) encoding of Mesos v1 messages, straight to and from the plain,
 * Mesos-JSON-shaped objects of `types.generated.ts`.
 *
 * protobufjs parses the schema; from its reflection tree this module generates, once per root
 * type, a decoder and an encoder function per message type (JavaScript source compiled with
 * `new Function` from our own schema, never from input). One pass turns bytes into the final
 * objects: enum numbers become names, 64-bit integers become exact numbers or bigints, unknown
 * fields are skipped, missing `required` fields are errors. This is about twice as fast as
 * protobufjs' own generated decoder followed by its `toObject` conversion (see the bench).
 *
 * Wire behaviour matches Mesos' C++ code: fields are written in field-number order, proto2
 * repeated scalars unpacked (both packed and unpacked are read), an unrecognised enum number
 * is dropped like an unknown field, and a set field is written even when it holds its default.
 */
import { MesosMessageError } from '../errors.js';
import type { FieldModel, MessageModel, ScalarKind } from './schema.js';

/** Decoder state shared by the generated functions of one decode call. */
interface Reader {
  b: Uint8Array;
  p: number;
  l: number;
  /** Scratch for 64-bit varints: low and high 32 bits. */
  lo: number;
  hi: number;
  /** A Buffer view of `b`, made on the first long string (Node decodes UTF-8 natively). */
  s: Utf8Buffer | undefined;
}

/**
 * `Buffer#utf8Slice` is what `buf.toString('utf8', start, end)` calls after dispatching on its
 * arguments; calling it directly saves a tenth of a decode. Lone invalid bytes become U+FFFD.
 */
type Utf8Buffer = Buffer & { utf8Slice(start: number, end: number): string };

/** Encoder state: a growable buffer and a write position. */
interface Writer {
  b: Uint8Array;
  p: number;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

function wireTypeOf(kind: ScalarKind | 'enum' | 'message'): number {
  switch (kind) {
    case 'double':
    case 'fixed64':
    case 'sfixed64':
      return WIRE_FIXED64;
    case 'float':
    case 'fixed32':
    case 'sfixed32':
      return WIRE_FIXED32;
    case 'string':
    case 'bytes':
    case 'message':
      return WIRE_LEN;
    default:
      return WIRE_VARINT;
  }
}

// ---------------------------------------------------------------------------------------------
// Runtime helpers used by the generated code.

const textDecoder = new TextDecoder('utf-8');
const textEncoder = new TextEncoder();
const f64 = new Float64Array(1);
const f64b = new Uint8Array(f64.buffer);
const f32 = new Float32Array(1);
const f32b = new Uint8Array(f32.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const TWO_32 = 4294967296;

class ProtobufFailure extends Error {}

function fail(message: string): never {
  throw new ProtobufFailure(message);
}

function truncatedOrMalformed(r: Reader, what: string): never {
  fail(r.p > r.l ? `truncated ${what} at byte ${r.l}` : `malformed ${what} at byte ${r.p}`);
}

/** Reads a varint as an unsigned 32-bit value (extra high bytes of a 64-bit varint are dropped). */
function u32(r: Reader): number {
  const b = r.b;
  let p = r.p;
  let c = b[p++]!;
  if (c < 128) {
    r.p = p;
    return c;
  }
  let v = c & 127;
  c = b[p++]!;
  v |= (c & 127) << 7;
  if (c < 128) {
    r.p = p;
    return v;
  }
  c = b[p++]!;
  v |= (c & 127) << 14;
  if (c < 128) {
    r.p = p;
    return v;
  }
  c = b[p++]!;
  v |= (c & 127) << 21;
  if (c < 128) {
    r.p = p;
    return v;
  }
  c = b[p++]!;
  v |= c << 28;
  if (c < 128) {
    r.p = p;
    return v >>> 0;
  }
  for (let i = 0; i < 5; i++) {
    c = b[p++]!;
    if (c < 128) {
      r.p = p;
      return v >>> 0;
    }
  }
  r.p = p;
  return truncatedOrMalformed(r, 'varint');
}

/** Reads a 64-bit varint into `r.lo` / `r.hi`. */
function v64(r: Reader): void {
  const b = r.b;
  let p = r.p;
  let lo = 0;
  let hi = 0;
  let c = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    c = b[p++]!;
    lo |= (c & 127) << shift;
    if (c < 128) {
      r.p = p;
      r.lo = lo >>> 0;
      r.hi = 0;
      return;
    }
  }
  c = b[p++]!;
  lo |= (c & 127) << 28;
  hi = (c & 127) >> 4;
  if (c < 128) {
    r.p = p;
    r.lo = lo >>> 0;
    r.hi = hi;
    return;
  }
  for (let shift = 3; shift < 32; shift += 7) {
    c = b[p++]!;
    hi |= (c & 127) << shift;
    if (c < 128) {
      r.p = p;
      r.lo = lo >>> 0;
      r.hi = hi >>> 0;
      return;
    }
  }
  r.p = p;
  truncatedOrMalformed(r, 'varint');
}

function checkEnd(r: Reader): void {
  if (r.p > r.l) fail(`truncated value at byte ${r.l}`);
}

/** An unsigned 64-bit value from two 32-bit halves: a number when safe, else a bigint. */
function toUnsigned(lo: number, hi: number): number | bigint {
  if (hi < 0x200000) return hi * TWO_32 + lo;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** A signed (two's complement) 64-bit value from two 32-bit halves. */
function toSigned(lo: number, hi: number): number | bigint {
  if (hi < 0x80000000) return toUnsigned(lo, hi);
  // Negative: -(~x + 1)
  const nlo = (~lo + 1) >>> 0;
  const nhi = (~hi + (nlo === 0 ? 1 : 0)) >>> 0;
  const mag = toUnsigned(nlo, nhi);
  return typeof mag === 'number' ? -mag : -mag;
}

function uint64(r: Reader): number | bigint {
  v64(r);
  checkEnd(r);
  return toUnsigned(r.lo, r.hi);
}

function int64(r: Reader): number | bigint {
  v64(r);
  checkEnd(r);
  return toSigned(r.lo, r.hi);
}

function sint64(r: Reader): number | bigint {
  v64(r);
  checkEnd(r);
  // zigzag: (n >>> 1) ^ -(n & 1), on 64 bits
  const neg = r.lo & 1;
  const lo = ((r.lo >>> 1) | (r.hi << 31)) >>> 0;
  const hi = r.hi >>> 1;
  if (!neg) return toUnsigned(lo, hi);
  const mag = toUnsigned(lo, hi);
  // -(2^53-1) - 1 = -2^53 is no longer a safe integer: a bigint then, like every other kind.
  return typeof mag === 'number' && mag < Number.MAX_SAFE_INTEGER ? -mag - 1 : -BigInt(mag) - 1n;
}

function bool(r: Reader): boolean {
  v64(r);
  checkEnd(r);
  return (r.lo | r.hi) !== 0;
}

function need(r: Reader, n: number): number {
  const p = r.p;
  if (p + n > r.l) fail(`truncated value at byte ${r.l}`);
  r.p = p + n;
  return p;
}

function fixed32(r: Reader): number {
  const p = need(r, 4);
  const b = r.b;
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 0x1000000;
}

function sfixed32(r: Reader): number {
  return fixed32(r) | 0;
}

function fixed64(r: Reader): number | bigint {
  const lo = fixed32(r);
  return toUnsigned(lo, fixed32(r));
}

function sfixed64(r: Reader): number | bigint {
  const lo = fixed32(r);
  return toSigned(lo, fixed32(r));
}

function double(r: Reader): number {
  const p = need(r, 8);
  const b = r.b;
  if (LITTLE_ENDIAN) {
    f64b[0] = b[p]!;
    f64b[1] = b[p + 1]!;
    f64b[2] = b[p + 2]!;
    f64b[3] = b[p + 3]!;
    f64b[4] = b[p + 4]!;
    f64b[5] = b[p + 5]!;
    f64b[6] = b[p + 6]!;
    f64b[7] = b[p + 7]!;
  } else for (let i = 0; i < 8; i++) f64b[7 - i] = b[p + i]!;
  return f64[0]!;
}

function float(r: Reader): number {
  const p = need(r, 4);
  const b = r.b;
  if (LITTLE_ENDIAN) for (let i = 0; i < 4; i++) f32b[i] = b[p + i]!;
  else for (let i = 0; i < 4; i++) f32b[3 - i] = b[p + i]!;
  return f32[0]!;
}

/** Reads a length prefix and returns the end offset of the value, checked against `end`. */
function len(r: Reader, end: number): number {
  let n = r.b[r.p]!;
  if (n < 128) r.p++;
  else n = u32(r);
  const e = r.p + n;
  if (e > end) fail(`length ${n} at byte ${r.p} runs past the end of its message (${end})`);
  return e;
}

function string(r: Reader, end: number): string {
  const e = len(r, end);
  const p = r.p;
  r.p = e;
  if (e - p <= 12) {
    // Short ASCII strings (ids, addresses) are fastest built in JavaScript, in one call.
    const b = r.b;
    let any = 0;
    for (let i = p; i < e; i++) any |= b[i]!;
    if (any < 128) return shortAscii(b, p, e - p);
    return textDecoder.decode(b.subarray(p, e));
  }
  // Records from a Node stream already are Buffers; anything else gets a view once per decode.
  r.s ??= (
    Buffer.isBuffer(r.b) ? r.b : Buffer.from(r.b.buffer, r.b.byteOffset, r.b.byteLength)
  ) as Utf8Buffer;
  return r.s.utf8Slice(p, e);
}

const fromCharCode = String.fromCharCode;

/** The `n` (at most 12) ASCII bytes at `p` as a string (up to 8 in one call, no intermediate strings). */
function shortAscii(b: Uint8Array, p: number, n: number): string {
  switch (n) {
    case 0:
      return '';
    case 1:
      return fromCharCode(b[p]!);
    case 2:
      return fromCharCode(b[p]!, b[p + 1]!);
    case 3:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!);
    case 4:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!);
    case 5:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!);
    case 6:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!);
    case 7:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!);
    case 8:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!);
    default:
      // 9 to 12: two flat strings joined (below 13 characters V8 copies, it does not link).
      return shortAscii(b, p, 8) + shortAscii(b, p + 8, n - 8);
  }
}

function bytes(r: Reader, end: number): Uint8Array {
  const e = len(r, end);
  const p = r.p;
  r.p = e;
  // A copy: decoded messages must not pin (or alias) the network buffer they came from.
  // (Not `r.b.slice`: on a Node `Buffer` that is a view, and a `Buffer`, not a `Uint8Array`.)
  const n = e - p;
  const out = new Uint8Array(n);
  if (n <= 32) {
    // Short values (status uuids are 16 bytes): a loop beats making a subarray to copy from.
    const b = r.b;
    for (let i = 0; i < n; i++) out[i] = b[p + i]!;
  } else out.set(r.b.subarray(p, e));
  return out;
}

function skip(r: Reader, tag: number, end: number): void {
  if (tag >>> 3 === 0) fail(`invalid field number 0 at byte ${r.p}`);
  switch (tag & 7) {
    case WIRE_VARINT:
      v64(r);
      checkEnd(r);
      return;
    case WIRE_FIXED64:
      need(r, 8);
      return;
    case WIRE_LEN:
      r.p = len(r, end);
      return;
    case WIRE_FIXED32:
      need(r, 4);
      return;
    case WIRE_START_GROUP: {
      const field = tag >>> 3;
      for (;;) {
        if (r.p >= end) fail('unterminated group');
        const t = u32(r);
        if ((t & 7) === WIRE_END_GROUP) {
          if (t >>> 3 !== field) fail(`mismatched end of group at byte ${r.p}`);
          return;
        }
        skip(r, t, end);
      }
    }
    default:
      fail(`invalid wire type ${tag & 7} at byte ${r.p}`);
  }
}

function setKey(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__')
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

// --- writing

const EMPTY = new Uint8Array(0);
const INITIAL_WRITER_BYTES = 4096;
/** A shared writer's buffer above this size is dropped after use, so one huge message does not pin memory. */
const MAX_RETAINED_WRITER_BYTES = 1 << 20;

function grow(w: Writer, n: number): void {
  let size = w.b.length * 2;
  while (size < w.p + n) size *= 2;
  const b = new Uint8Array(size);
  b.set(w.b.subarray(0, w.p));
  w.b = b;
}

function wu32(w: Writer, v: number): void {
  if (w.p + 5 > w.b.length) grow(w, 5);
  const b = w.b;
  let p = w.p;
  while (v > 127) {
    b[p++] = (v & 127) | 128;
    v >>>= 7;
  }
  b[p++] = v;
  w.p = p;
}

/** Writes a 64-bit varint from 32-bit halves. */
function wv64(w: Writer, lo: number, hi: number): void {
  if (w.p + 10 > w.b.length) grow(w, 10);
  const b = w.b;
  let p = w.p;
  while (hi !== 0 || lo > 127) {
    b[p++] = (lo & 127) | 128;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  b[p++] = lo;
  w.p = p;
}

class EncodeFailure extends Error {}

function encodeFail(message: string): never {
  throw new EncodeFailure(message);
}

/** Splits an integer (number or bigint) into two's-complement 32-bit halves, checking its range. */
function halves(v: unknown, signed: boolean, where: string): [number, number] {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) encodeFail(`${where}: expected an integer, got ${v}`);
    if (v >= 0 && v <= Number.MAX_SAFE_INTEGER) return [v >>> 0, Math.floor(v / TWO_32) >>> 0];
    if (v < 0 && !signed) encodeFail(`${where}: expected an unsigned integer, got ${v}`);
    // Negative, or integral beyond 2^53 (e.g. Date.now() * 1e6): exact through bigint.
    v = BigInt(v);
  }
  if (typeof v === 'bigint') {
    const min = signed ? -(1n << 63n) : 0n;
    const max = signed ? (1n << 63n) - 1n : (1n << 64n) - 1n;
    if (v < min || v > max) encodeFail(`${where}: ${v} is out of range`);
    const u = BigInt.asUintN(64, v);
    return [Number(u & 0xffffffffn), Number(u >> 32n)];
  }
  return encodeFail(`${where}: expected a number or bigint, got ${describe(v)}`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'a Uint8Array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

function wint32(w: Writer, v: unknown, where: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647)
    encodeFail(`${where}: expected a 32-bit integer, got ${describe(v)}`);
  if (v >= 0) wu32(w, v);
  else wv64(w, v >>> 0, 0xffffffff);
}

function wuint32(w: Writer, v: unknown, where: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 4294967295)
    encodeFail(`${where}: expected an unsigned 32-bit integer, got ${describe(v)}`);
  wu32(w, v);
}

function wsint32(w: Writer, v: unknown, where: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647)
    encodeFail(`${where}: expected a 32-bit integer, got ${describe(v)}`);
  wu32(w, ((v << 1) ^ (v >> 31)) >>> 0);
}

function wint64(w: Writer, v: unknown, where: string): void {
  const [lo, hi] = halves(v, true, where);
  wv64(w, lo, hi);
}

function wuint64(w: Writer, v: unknown, where: string): void {
  const [lo, hi] = halves(v, false, where);
  wv64(w, lo, hi);
}

function wsint64(w: Writer, v: unknown, where: string): void {
  const [lo, hi] = halves(v, true, where);
  // zigzag on 64 bits: (n << 1) ^ (n >> 63)
  const sign = hi >> 31;
  wv64(w, ((lo << 1) ^ sign) >>> 0, (((hi << 1) | (lo >>> 31)) ^ sign) >>> 0);
}

function wbool(w: Writer, v: unknown, where: string): void {
  if (typeof v !== 'boolean') encodeFail(`${where}: expected a boolean, got ${describe(v)}`);
  if (w.p + 1 > w.b.length) grow(w, 1);
  w.b[w.p++] = v ? 1 : 0;
}

function wraw32(w: Writer, lo: number): void {
  if (w.p + 4 > w.b.length) grow(w, 4);
  const b = w.b;
  const p = w.p;
  b[p] = lo & 255;
  b[p + 1] = (lo >>> 8) & 255;
  b[p + 2] = (lo >>> 16) & 255;
  b[p + 3] = lo >>> 24;
  w.p = p + 4;
}

function wfixed32(w: Writer, v: unknown, where: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 4294967295)
    encodeFail(`${where}: expected an unsigned 32-bit integer, got ${describe(v)}`);
  wraw32(w, v >>> 0);
}

function wsfixed32(w: Writer, v: unknown, where: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647)
    encodeFail(`${where}: expected a 32-bit integer, got ${describe(v)}`);
  wraw32(w, v >>> 0);
}

function wfixed64(w: Writer, v: unknown, where: string): void {
  const [lo, hi] = halves(v, false, where);
  wraw32(w, lo);
  wraw32(w, hi);
}

function wsfixed64(w: Writer, v: unknown, where: string): void {
  const [lo, hi] = halves(v, true, where);
  wraw32(w, lo);
  wraw32(w, hi);
}

function wdouble(w: Writer, v: unknown, where: string): void {
  if (typeof v !== 'number') encodeFail(`${where}: expected a number, got ${describe(v)}`);
  if (w.p + 8 > w.b.length) grow(w, 8);
  f64[0] = v;
  const b = w.b;
  const p = w.p;
  if (LITTLE_ENDIAN) for (let i = 0; i < 8; i++) b[p + i] = f64b[i]!;
  else for (let i = 0; i < 8; i++) b[p + i] = f64b[7 - i]!;
  w.p = p + 8;
}

function wfloat(w: Writer, v: unknown, where: string): void {
  if (typeof v !== 'number') encodeFail(`${where}: expected a number, got ${describe(v)}`);
  if (w.p + 4 > w.b.length) grow(w, 4);
  f32[0] = v;
  const b = w.b;
  const p = w.p;
  if (LITTLE_ENDIAN) for (let i = 0; i < 4; i++) b[p + i] = f32b[i]!;
  else for (let i = 0; i < 4; i++) b[p + i] = f32b[3 - i]!;
  w.p = p + 4;
}

function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : n < 268435456 ? 4 : 5;
}

/**
 * Length-delimited values reserve one byte for their length, are written, then get their real
 * length; a length of 128 or more moves the value right to make room (rare for Mesos messages).
 */
function begin(w: Writer): number {
  if (w.p + 1 > w.b.length) grow(w, 1);
  return w.p++;
}

function finish(w: Writer, start: number): void {
  const n = w.p - start - 1;
  if (n < 128) {
    w.b[start] = n;
    return;
  }
  const size = varintSize(n);
  if (w.p + size - 1 > w.b.length) grow(w, size - 1);
  w.b.copyWithin(start + size, start + 1, w.p);
  const end = w.p + size - 1;
  w.p = start;
  wu32(w, n);
  w.p = end;
}

function wstring(w: Writer, v: unknown, where: string): void {
  if (typeof v !== 'string') encodeFail(`${where}: expected a string, got ${describe(v)}`);
  const n = v.length;
  if (n < 43) {
    // At most 3 bytes per UTF-16 unit, so the length fits one byte: write in place.
    if (w.p + 1 + n * 3 > w.b.length) grow(w, 1 + n * 3);
    const b = w.b;
    const start = w.p;
    let p = start + 1;
    for (let i = 0; i < n; i++) {
      let c = v.charCodeAt(i);
      if (c < 0x80) b[p++] = c;
      else if (c < 0x800) {
        b[p++] = 0xc0 | (c >> 6);
        b[p++] = 0x80 | (c & 63);
      } else if (c >= 0xd800 && c < 0xdc00 && i + 1 < n && (v.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        c = 0x10000 + ((c - 0xd800) << 10) + (v.charCodeAt(++i) - 0xdc00);
        b[p++] = 0xf0 | (c >> 18);
        b[p++] = 0x80 | ((c >> 12) & 63);
        b[p++] = 0x80 | ((c >> 6) & 63);
        b[p++] = 0x80 | (c & 63);
      } else {
        if (c >= 0xd800 && c < 0xe000) c = 0xfffd; // lone surrogate, as TextEncoder does
        b[p++] = 0xe0 | (c >> 12);
        b[p++] = 0x80 | ((c >> 6) & 63);
        b[p++] = 0x80 | (c & 63);
      }
    }
    b[start] = p - start - 1;
    w.p = p;
    return;
  }
  const max = n * 3;
  if (w.p + 5 + max > w.b.length) grow(w, 5 + max);
  const start = begin(w);
  const { written } = textEncoder.encodeInto(v, w.b.subarray(w.p));
  w.p += written;
  finish(w, start);
}

function wbytes(w: Writer, v: unknown, where: string): void {
  if (!(v instanceof Uint8Array)) encodeFail(`${where}: expected a Uint8Array, got ${describe(v)}`);
  wu32(w, v.length);
  if (w.p + v.length > w.b.length) grow(w, v.length);
  w.b.set(v, w.p);
  w.p += v.length;
}

function notObject(v: unknown): boolean {
  return typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array;
}

const helpers = {
  u32,
  int64,
  uint64,
  sint64,
  bool,
  fixed32,
  sfixed32,
  fixed64,
  sfixed64,
  double,
  float,
  len,
  string,
  bytes,
  skip,
  setKey,
  fail,
  wu32,
  wint32,
  wuint32,
  wsint32,
  wint64,
  wuint64,
  wsint64,
  wbool,
  wfixed32,
  wsfixed32,
  wfixed64,
  wsfixed64,
  wdouble,
  wfloat,
  wstring,
  wbytes,
  begin,
  finish,
  encodeFail,
  describe,
  notObject,
  isArray: Array.isArray,
  hasOwn: Object.prototype.hasOwnProperty,
};

// ---------------------------------------------------------------------------------------------
// Code generation.

const READ: Record<ScalarKind, string> = {
  double: 'H.double(r)',
  float: 'H.float(r)',
  int32: '(H.u32(r) | 0)',
  uint32: 'H.u32(r)',
  sint32: 'H.zz32(H.u32(r))',
  fixed32: 'H.fixed32(r)',
  sfixed32: 'H.sfixed32(r)',
  int64: 'H.int64(r)',
  uint64: 'H.uint64(r)',
  sint64: 'H.sint64(r)',
  fixed64: 'H.fixed64(r)',
  sfixed64: 'H.sfixed64(r)',
  bool: 'H.bool(r)',
  string: 'H.string(r, end)',
  bytes: 'H.bytes(r, end)',
};

const WRITE: Record<ScalarKind, string> = {
  double: 'H.wdouble',
  float: 'H.wfloat',
  int32: 'H.wint32',
  uint32: 'H.wuint32',
  sint32: 'H.wsint32',
  fixed32: 'H.wfixed32',
  sfixed32: 'H.wsfixed32',
  int64: 'H.wint64',
  uint64: 'H.wuint64',
  sint64: 'H.wsint64',
  fixed64: 'H.wfixed64',
  sfixed64: 'H.wsfixed64',
  bool: 'H.wbool',
  string: 'H.wstring',
  bytes: 'H.wbytes',
};

/** The default a map entry's key or value takes when the entry omits it. */
function zeroOf(f: FieldModel, key: boolean): string {
  const kind = key ? f.keyType! : f.value.kind === 'scalar' ? f.value.scalar : f.value.kind;
  switch (kind) {
    case 'string':
      return "''";
    case 'bytes':
      return 'new Uint8Array(0)';
    case 'bool':
      return 'false';
    case 'enum':
      return 'undefined';
    case 'message':
      return 'undefined';
    default:
      return '0';
  }
}

interface Compiled {
  decode(bytes: Uint8Array): unknown;
  encode(message: unknown): Uint8Array;
}

class Generator {
  private readonly ids = new Map<string, number>();
  private readonly enumIds = new Map<string, number>();
  private readonly enumTables: unknown[] = [];
  private readonly queue: MessageModel[] = [];
  private readonly out: string[] = [];

  idOf(m: MessageModel): number {
    let id = this.ids.get(m.fullName);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(m.fullName, id);
      this.queue.push(m);
    }
    return id;
  }

  enumOf(f: FieldModel): number {
    if (f.value.kind !== 'enum') throw new Error('not an enum');
    const e = f.value.enum;
    let id = this.enumIds.get(e.fullName);
    if (id === undefined) {
      id = this.enumTables.length / 2;
      this.enumIds.set(e.fullName, id);
      const byNumber: (string | undefined)[] = [];
      for (const [n, name] of e.byNumber) byNumber[n] = name;
      const byName: Record<string, number> = Object.create(null);
      for (const [name, n] of e.byName) byName[name] = n;
      this.enumTables.push(byNumber, byName);
    }
    return id;
  }

  compile(root: MessageModel): Compiled {
    const rootId = this.idOf(root);
    for (let i = 0; i < this.queue.length; i++) {
      const m = this.queue[i]!;
      this.decoder(m, i);
      this.encoder(m, i);
    }
    // Helpers become local constants of the factory, so generated code calls them directly
    // (`H.len(…)` is rewritten to `H_len(…)`) instead of loading a property each time.
    const h: Record<string, unknown> = { ...helpers, zz32: (n: number) => (n >>> 1) ^ -(n & 1) };
    const names = Object.keys(h);
    const prelude = `const { ${names.map((n) => `${n}: H_${n}`).join(', ')} } = H;`;
    const body = this.out.join('\n').replace(/\bH\.(\w+)/g, 'H_$1');
    // Enum tables too: EN_0 (number → name), EN_1 (name → number), … for each enum in use.
    const tables = this.enumTables.map((_, i) => `EN_${i} = EN[${i}]`);
    const enumPrelude = tables.length > 0 ? `const ${tables.join(', ')};` : '';
    const source = `${prelude}\n${enumPrelude}\n${body}\nreturn { d: d${rootId}, e: e${rootId} };`;
    const factory = new Function('H', 'EN', source) as (
      h: unknown,
      en: unknown[],
    ) => { d: (r: Reader, end: number) => unknown; e: (w: Writer, m: unknown) => void };
    const { d, e } = factory(h, this.enumTables);
    return wrap(root.fullName, d, e);
  }

  private readValue(f: FieldModel): string {
    const v = f.value;
    if (v.kind === 'message') return `d${this.idOf(v.message)}(r, H.len(r, end))`;
    if (v.kind === 'enum') return `EN_${this.enumOf(f) * 2}[H.u32(r) | 0]`;
    return READ[v.scalar];
  }

  private decoder(m: MessageModel, id: number): void {
    const o = this.out;
    o.push(
      // Plain objects (prototype Object.prototype) made by a constructor: V8 sizes a
      // constructor's objects for the fields they get, so no field needs a separate store.
      `function M${id}() {}`,
      `M${id}.prototype = Object.prototype;`,
      `function d${id}(r, end) {`,
      `  const m = new M${id}(); const b = r.b;`,
      '  while (r.p < end) {',
      '    let t = b[r.p];',
      '    if (t < 128) r.p++; else t = H.u32(r);',
      '    switch (t) {',
    );
    for (const f of m.fields) {
      const kind = f.value.kind === 'scalar' ? f.value.scalar : f.value.kind;
      const wt = wireTypeOf(kind);
      // `* 8`, not `<< 3`: field numbers reach 2^29-1 and `<<` would overflow into the sign bit.
      const tag = f.id * 8 + wt;
      const name = JSON.stringify(f.name);
      if (f.rule === 'map') {
        const keyTag = (1 << 3) | wireTypeOf(f.keyType!);
        const valTag = (2 << 3) | wt;
        o.push(
          `      case ${f.id * 8 + WIRE_LEN}: {`,
          '        const outer = end; const e2 = H.len(r, outer);',
          `        let k = ${zeroOf(f, true)}, v = ${zeroOf(f, false)};`,
          '        { const end = e2; while (r.p < end) { const t2 = H.u32(r);',
          `          if (t2 === ${keyTag}) k = ${READ[f.keyType!]};`,
          `          else if (t2 === ${valTag}) v = ${this.readValue(f)};`,
          '          else H.skip(r, t2, end); } }',
          "        if (r.p !== e2) H.fail('map entry overruns its length');",
          f.value.kind === 'message'
            ? `        if (v === undefined) v = d${this.idOf(f.value.message)}(r, r.p);`
            : '',
          `        if (v !== undefined) H.setKey(m[${name}] || (m[${name}] = {}), String(k), v);`,
          '        break;',
          '      }',
        );
        continue;
      }
      const read = this.readValue(f);
      if (f.rule === 'repeated') {
        const push =
          f.value.kind === 'enum'
            ? `{ const x = ${read}; if (x !== undefined) a.push(x); }`
            : `a.push(${read});`;
        // The array is created only once it has an element (an unknown enum number or an empty
        // packed run leaves the field unset, as everywhere else).
        o.push(
          f.value.kind === 'enum'
            ? `      case ${tag}: { const x = ${read}; if (x !== undefined) (m[${name}] || (m[${name}] = [])).push(x); break; }`
            : `      case ${tag}: { const a = m[${name}] || (m[${name}] = []); ${push} break; }`,
        );
        if (wt !== WIRE_LEN) {
          // Packed encoding of a repeated scalar: accept it too.
          o.push(
            `      case ${f.id * 8 + WIRE_LEN}: {`,
            `        const a = m[${name}] || []; const e2 = H.len(r, end);`,
            `        while (r.p < e2) ${push}`,
            "        if (r.p !== e2) H.fail('packed field overruns its length');",
            `        if (a.length > 0) m[${name}] = a;`,
            '        break;',
            '      }',
          );
        }
      } else if (f.value.kind === 'enum') {
        o.push(`      case ${tag}: { const x = ${read}; if (x !== undefined) m[${name}] = x; break; }`);
      } else {
        o.push(`      case ${tag}: m[${name}] = ${read}; break;`);
      }
    }
    o.push('      default: H.skip(r, t, end);', '    }', '  }');
    o.push(`  if (r.p !== end) H.fail('a field overruns the end of ${m.fullName}');`);
    for (const f of m.requiredFields) {
      o.push(`  if (m.${f.name} === undefined) H.fail('missing required field ${m.fullName}.${f.name}');`);
    }
    o.push('  return m;', '}');
  }

  private writeValue(f: FieldModel, v: string, where: string): string {
    const val = f.value;
    if (val.kind === 'message') {
      return `{ if (H.notObject(${v})) H.encodeFail(${where} + ': expected an object, got ' + H.describe(${v})); const s = H.begin(w); e${this.idOf(val.message)}(w, ${v}); H.finish(w, s); }`;
    }
    if (val.kind === 'enum') {
      return `{ const n = typeof ${v} === 'string' ? EN_${this.enumOf(f) * 2 + 1}[${v}] : undefined; if (n === undefined) H.encodeFail(${where} + ': ' + H.describe(${v}) + ' is not a ${val.enum.fullName} name'); H.wint32(w, n, ${where}); }`;
    }
    return `${WRITE[val.scalar]}(w, ${v}, ${where});`;
  }

  private encoder(m: MessageModel, id: number): void {
    const o = this.out;
    o.push(`function e${id}(w, m) {`, '  let v;');
    for (const f of m.fieldsByNumber) {
      const kind = f.value.kind === 'scalar' ? f.value.scalar : f.value.kind;
      const where = JSON.stringify(`${m.fullName}.${f.name}`);
      const tag = f.id * 8 + (f.rule === 'map' ? WIRE_LEN : wireTypeOf(kind));
      o.push(`  v = m.${f.name};`);
      if (f.rule === 'map') {
        const keyWrite = `${WRITE[f.keyType!]}(w, ${f.keyType === 'string' ? 'k' : 'H.mapKey(k)'}, ${where});`;
        o.push(
          '  if (v !== undefined && v !== null) {',
          `    if (H.notObject(v)) H.encodeFail(${where} + ': expected an object (a map), got ' + H.describe(v));`,
          '    for (const k in v) { if (!H.hasOwn.call(v, k)) continue; const x = v[k];',
          `      H.wu32(w, ${tag}); const s = H.begin(w);`,
          `      H.wu32(w, ${(1 << 3) | wireTypeOf(f.keyType!)}); ${keyWrite}`,
          `      H.wu32(w, ${(2 << 3) | wireTypeOf(kind)}); ${this.writeValue(f, 'x', where)}`,
          '      H.finish(w, s); }',
          '  }',
        );
      } else if (f.rule === 'repeated') {
        o.push(
          '  if (v !== undefined && v !== null) {',
          `    if (!H.isArray(v)) H.encodeFail(${where} + ': expected an array, got ' + H.describe(v));`,
          `    for (let i = 0; i < v.length; i++) { const x = v[i]; H.wu32(w, ${tag}); ${this.writeValue(f, 'x', where)} }`,
          '  }',
        );
      } else {
        o.push(
          `  if (v !== undefined && v !== null) { H.wu32(w, ${tag}); ${this.writeValue(f, 'v', where)} }`,
        );
        if (f.rule === 'required') {
          o.push(`  else H.encodeFail('missing required field ' + ${where});`);
        }
      }
    }
    o.push('}');
  }
}

function mapKey(k: string): number | bigint {
  const n = Number(k);
  if (Number.isSafeInteger(n)) return n;
  try {
    return BigInt(k);
  } catch {
    return encodeFail(`map key ${JSON.stringify(k)} is not an integer`);
  }
}
Object.assign(helpers, { mapKey });

function wrap(
  typeName: string,
  d: (r: Reader, end: number) => unknown,
  e: (w: Writer, m: unknown) => void,
): Compiled {
  const reader: Reader = { b: EMPTY, p: 0, l: 0, lo: 0, hi: 0, s: undefined };
  let shared: Writer | undefined = { b: new Uint8Array(INITIAL_WRITER_BYTES), p: 0 };
  return {
    decode(input: Uint8Array): unknown {
      // Decoding runs no foreign code, so one reader per codec serves every call; it drops
      // its reference to the input afterwards so nothing is pinned.
      const r = reader;
      r.b = input;
      r.p = 0;
      r.l = input.length;
      r.s = undefined;
      try {
        return d(r, input.length);
      } catch (err) {
        throw decodeError(typeName, err);
      } finally {
        r.b = EMPTY;
        r.s = undefined;
      }
    },
    encode(message: unknown): Uint8Array {
      if (notObject(message)) {
        throw new MesosMessageError(
          'MESOS_ENCODE_INVALID',
          typeName,
          `expected a ${typeName} object, got ${describe(message)}`,
        );
      }
      // Re-entrant calls (a getter that encodes) get their own writer.
      const w = shared ?? { b: new Uint8Array(INITIAL_WRITER_BYTES), p: 0 };
      shared = undefined;
      w.p = 0;
      try {
        e(w, message);
        if (w.b.length <= MAX_RETAINED_WRITER_BYTES) return w.b.slice(0, w.p);
        // A writer grown this large is not kept: hand its bytes out instead of copying them.
        const out = w.b.subarray(0, w.p);
        w.b = EMPTY;
        return out;
      } catch (err) {
        throw encodeError(typeName, err);
      } finally {
        if (w.b.length > MAX_RETAINED_WRITER_BYTES || w.b === EMPTY)
          w.b = new Uint8Array(INITIAL_WRITER_BYTES);
        shared = w;
      }
    },
  };
}

function decodeError(typeName: string, err: unknown): MesosMessageError {
  if (err instanceof ProtobufFailure) {
    const code = err.message.startsWith('missing required')
      ? 'MESOS_MISSING_REQUIRED'
      : 'MESOS_PROTOBUF_INVALID';
    return new MesosMessageError(code, typeName, `cannot decode ${typeName} from protobuf: ${err.message}`);
  }
  // Anything else (e.g. a RangeError from absurd nesting) is still bad input, never a crash.
  return new MesosMessageError(
    'MESOS_PROTOBUF_INVALID',
    typeName,
    `cannot decode ${typeName} from protobuf: ${String(err)}`,
    {
      cause: err,
    },
  );
}

function encodeError(typeName: string, err: unknown): MesosMessageError {
  if (err instanceof EncodeFailure) {
    const code = err.message.startsWith('missing required')
      ? 'MESOS_MISSING_REQUIRED'
      : 'MESOS_ENCODE_INVALID';
    return new MesosMessageError(code, typeName, `cannot encode ${typeName}: ${err.message}`);
  }
  return new MesosMessageError(
    'MESOS_ENCODE_INVALID',
    typeName,
    `cannot encode ${typeName}: ${String(err)}`,
    { cause: err },
  );
}

const compiled = new Map<string, Compiled>();

/** The compiled protobuf codec of a message type (compiled on first use, then cached). */
export function protobufCodec(model: MessageModel): Compiled {
  let c = compiled.get(model.fullName);
  if (!c) {
    c = new Generator().compile(model);
    compiled.set(model.fullName, c);
  }
  return c;
}
