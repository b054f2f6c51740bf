/**
 * mesoskit's three wire envelopes, MessagePack-encoded and versioned by `v`:
 *
 * - the **launch** envelope, in `TaskInfo.data`: which task to run, at which payload version,
 *   which attempt, with which input;
 * - the **result** envelope, in `TaskStatus.data` of the terminal status update (the reliable
 *   path: Mesos retries status updates until they are acknowledged): the output or a
 *   {@link WireFailure};
 * - the **message** envelope, in framework messages (best effort, both directions).
 *
 * ```ts
 * const bytes = encodeLaunchEnvelope({ task: 'thumbs.resize', taskVersion: 1, attempt: 1, input: { url } });
 * const launch = decodeLaunchEnvelope(bytes, { maxBytes: 1 << 20 }); // { v: 1, task, taskVersion, attempt, input }
 * ```
 *
 * ## Wire layout (version 1)
 *
 * Each envelope is one MessagePack **array** with its fields in a fixed order, the payload last
 * (field names are not sent: a deliberate choice for speed and size, with the order fixed by `v`):
 *
 * | envelope | array                                                              |
 * | -------- | ------------------------------------------------------------------ |
 * | launch   | `[1, task: str, taskVersion: uint, attempt: uint, input: any]`      |
 * | result   | `[1, true, output: any]` or `[1, false, failure: map]`             |
 * | message  | `[1, kind: 'message' \| 'progress', taskId: str \| nil, data: any]` |
 *
 * The failure map has the keys of {@link WireFailure} (`name`, `code`, `message`, `retryable`,
 * `stack`, `details`, `cause`), absent keys left out. Payloads (`input`, `output`, `details`,
 * `data`) may hold everything the MessagePack codec carries: JSON values plus `Date`, `bigint`,
 * `Map`, `Set` and `Uint8Array` (ext types -1, 1, 2 and 3; see `msgpack.ts`), nested at most
 * 64 levels.
 *
 * Any later version must keep `v` findable: the first item of a top-level array, or the key `v`
 * of a top-level map. A decoder therefore reports a version it does not speak as
 * `ENVELOPE_VERSION` ("launch envelope version 2 is not supported (expected 1)") whatever the
 * rest looks like.
 *
 * ## Decoding
 *
 * Decoders never throw anything but `EnvelopeError` for any input bytes (an `InvalidOptionsError`
 * only for a bad `maxBytes` option): `ENVELOPE_MALFORMED` for bytes that are not sound
 * MessagePack or exceed `maxBytes` (default 16 MiB), `ENVELOPE_VERSION` for a missing or foreign
 * `v`, `ENVELOPE_INVALID` naming the field for a wrong shape (wrong field count, a mistyped
 * field, a non-array top level, a `__proto__` key anywhere). They return fresh plain objects.
 *
 * ## Encoding
 *
 * Encoders throw only `EnvelopeError` with `ENVELOPE_ENCODE`, naming the field or the value that
 * cannot be carried. They return a fresh `Uint8Array`, which for envelopes up to 4 KiB is a view
 * into a shared 32 KiB slab (the way Node pools small `Buffer`s): use it with its `byteOffset`
 * and `byteLength` as usual, and `slice()` it before transferring its `.buffer` elsewhere.
 *
 * @module
 */

import { EnvelopeError } from './errors.js';
import { copyWireFailure, describeType, parseWireFailure, type WireFailure } from './failure.js';
import {
  allocBytes,
  encodeMsgpackShared,
  errorMessage,
  type MsgpackDecoder,
  MsgpackReader,
  msgpackDecoder,
  NOT_SCALAR,
} from './msgpack.js';
import { MAX_TASK_NAME_LENGTH } from './task.js';

/** The version of the envelopes this module writes and reads (`v`). */
export const ENVELOPE_VERSION = 1;

/** The launch envelope, in `TaskInfo.data`. */
export interface LaunchEnvelope {
  v: typeof ENVELOPE_VERSION;
  /** The task definition's name, e.g. `thumbs.resize`. */
  task: string;
  /** The task definition's payload version; the executor rejects one it does not know. */
  taskVersion: number;
  /** Which attempt this is, counting from 1. */
  attempt: number;
  /** The task's input. */
  input: unknown;
}

/** The result envelope, in `TaskStatus.data` of the terminal status update. */
export type ResultEnvelope =
  | { v: typeof ENVELOPE_VERSION; ok: true; output: unknown }
  | { v: typeof ENVELOPE_VERSION; ok: false; failure: WireFailure };

/**
 * What a message envelope carries: `message` for whatever a handler's `ctx.send(data)` or a
 * scheduler sends, `progress` for a handler's `ctx.progress(value)`.
 */
export type MessageKind = 'message' | 'progress';

/**
 * The message envelope, in framework messages (best effort, as Mesos delivers them).
 *
 * - Executor → scheduler: `kind` `message` (`ctx.send`) or `progress` (`ctx.progress`), with
 *   the `taskId` of the run that sent it.
 * - Scheduler → executor: `kind` `message`, with the `taskId` of the run it is for, or without a
 *   `taskId` for the executor itself.
 *
 * A `progress` envelope always has a `taskId`.
 */
export interface MessageEnvelope {
  v: typeof ENVELOPE_VERSION;
  kind: MessageKind;
  /** The Mesos `TaskID` value of the run, when the message is about or for one. */
  taskId?: string;
  /** The payload. */
  data: unknown;
}

/** An envelope as given to an encoder: `v` may be left out. */
export type EnvelopeInit<E> = E extends unknown
  ? Omit<E, 'v'> & { readonly v?: typeof ENVELOPE_VERSION }
  : never;

/** Options of the envelope decoders. */
export interface DecodeEnvelopeOptions {
  /**
   * The largest envelope accepted, in bytes; bigger ones fail with `ENVELOPE_MALFORMED`
   * before being read. A positive integer.
   *
   * @default 16 MiB (`DEFAULT_MAX_BYTES`)
   */
  maxBytes?: number;
}

const LAUNCH_FIELDS = 5;
const RESULT_FIELDS = 3;
const MESSAGE_FIELDS = 4;

const FIXARRAY = 0x90;
const NIL = 0xc0;
const FALSE = 0xc2;
const TRUE = 0xc3;

/** Reused: reading a header runs no foreign code, so no decode can start inside another. */
const reader = new MsgpackReader(new Uint8Array(0));

// ---------------------------------------------------------------------------------------------
// Launch

/**
 * Encodes a launch envelope. `taskVersion` and `attempt` are positive integers.
 *
 * @throws {EnvelopeError} `ENVELOPE_ENCODE` naming the field, or for an input that cannot be
 *   encoded (functions, symbols, cycles, deeper than 64 levels).
 */
export function encodeLaunchEnvelope(e: EnvelopeInit<LaunchEnvelope>): Uint8Array {
  try {
    const { v, task, taskVersion, attempt, input } = e;
    checkEncodeVersion(v, 'launch');
    if (typeof task !== 'string' || task === '' || task.length > MAX_TASK_NAME_LENGTH) {
      throw encodeFieldError('launch', 'task', `a string of 1 to ${MAX_TASK_NAME_LENGTH} characters`, task);
    }
    if (!isPositiveInteger(taskVersion)) {
      throw encodeFieldError('launch', 'taskVersion', 'a positive integer', taskVersion);
    }
    if (!isPositiveInteger(attempt))
      throw encodeFieldError('launch', 'attempt', 'a positive integer', attempt);
    const payload = encodeMsgpackShared(input); // shared: copy it before encoding anything else
    const taskUtf8 = headerUtf8(task);
    const out = allocBytes(
      2 + strSize(task, taskUtf8) + uintSize(taskVersion) + uintSize(attempt) + payload.length,
    );
    out[0] = FIXARRAY | LAUNCH_FIELDS;
    out[1] = ENVELOPE_VERSION;
    let p = writeStr(out, 2, task, taskUtf8);
    p = writeUint(out, p, taskVersion);
    p = writeUint(out, p, attempt);
    writeBytes(out, p, payload);
    return out;
  } catch (err) {
    throw asEncodeError(err, 'launch');
  }
}

/**
 * Decodes and validates a launch envelope.
 *
 * @throws {EnvelopeError} `ENVELOPE_MALFORMED`, `ENVELOPE_VERSION` or `ENVELOPE_INVALID` (see the
 *   module comment); never anything else for any bytes.
 */
export function decodeLaunchEnvelope(bytes: Uint8Array, options?: DecodeEnvelopeOptions): LaunchEnvelope {
  const decoder = msgpackDecoder(options?.maxBytes);
  const r = openEnvelope(bytes, decoder, 'launch', LAUNCH_FIELDS);
  const task = r.scalar(true);
  if (typeof task !== 'string' || task === '' || task.length > MAX_TASK_NAME_LENGTH) {
    throw decodeFieldError(r, 'launch', 'task', `a string of 1 to ${MAX_TASK_NAME_LENGTH} characters`, task);
  }
  const taskVersion = r.scalar();
  if (!isPositiveInteger(taskVersion)) {
    throw decodeFieldError(r, 'launch', 'taskVersion', 'a positive integer', taskVersion);
  }
  const attempt = r.scalar();
  if (!isPositiveInteger(attempt))
    throw decodeFieldError(r, 'launch', 'attempt', 'a positive integer', attempt);
  const input = decoder.decode(bytes, r.pos, bytes.length);
  return { v: ENVELOPE_VERSION, task, taskVersion, attempt, input };
}

// ---------------------------------------------------------------------------------------------
// Result

/**
 * Encodes a result envelope. For a failure, only the known {@link WireFailure} fields are sent;
 * if the failure cannot be encoded with its `details` (unencodable or too deep), it is sent
 * without any `details` rather than not at all.
 *
 * @throws {EnvelopeError} `ENVELOPE_ENCODE` for an output that cannot be encoded or a failure
 *   that is not a {@link WireFailure}.
 */
export function encodeResultEnvelope(e: EnvelopeInit<ResultEnvelope>): Uint8Array {
  try {
    const { v, ok } = e;
    checkEncodeVersion(v, 'result');
    let payload: Uint8Array;
    if (ok === true) {
      payload = encodeMsgpackShared((e as { output: unknown }).output);
    } else if (ok === false) {
      const failure: unknown = (e as { failure: unknown }).failure;
      try {
        payload = encodeMsgpackShared(copyWireFailure(failure, 'ENVELOPE_ENCODE', 'failure', true));
      } catch (err) {
        if (!(err instanceof EnvelopeError) || err.code !== 'ENVELOPE_ENCODE') throw err;
        payload = encodeMsgpackShared(copyWireFailure(failure, 'ENVELOPE_ENCODE', 'failure', false));
      }
    } else {
      throw encodeFieldError('result', 'ok', 'a boolean', ok);
    }
    const out = allocBytes(3 + payload.length);
    out[0] = FIXARRAY | RESULT_FIELDS;
    out[1] = ENVELOPE_VERSION;
    out[2] = ok ? TRUE : FALSE;
    writeBytes(out, 3, payload);
    return out;
  } catch (err) {
    throw asEncodeError(err, 'result');
  }
}

/**
 * Decodes and validates a result envelope; a failure is validated down its cause chain.
 *
 * @throws {EnvelopeError} `ENVELOPE_MALFORMED`, `ENVELOPE_VERSION` or `ENVELOPE_INVALID` (see the
 *   module comment); never anything else for any bytes.
 */
export function decodeResultEnvelope(bytes: Uint8Array, options?: DecodeEnvelopeOptions): ResultEnvelope {
  const decoder = msgpackDecoder(options?.maxBytes);
  const r = openEnvelope(bytes, decoder, 'result', RESULT_FIELDS);
  const ok = r.scalar();
  if (typeof ok !== 'boolean') throw decodeFieldError(r, 'result', 'ok', 'a boolean', ok);
  const payload = decoder.decode(bytes, r.pos, bytes.length);
  if (ok) return { v: ENVELOPE_VERSION, ok, output: payload };
  return { v: ENVELOPE_VERSION, ok, failure: parseWireFailure(payload, 'result envelope field failure') };
}

// ---------------------------------------------------------------------------------------------
// Message

/**
 * Encodes a message envelope. A `taskId`, when given, is a non-empty string; `progress` needs one.
 *
 * @throws {EnvelopeError} `ENVELOPE_ENCODE` naming the field, or for data that cannot be encoded.
 */
export function encodeMessageEnvelope(e: EnvelopeInit<MessageEnvelope>): Uint8Array {
  try {
    const { v, kind, taskId, data } = e;
    checkEncodeVersion(v, 'message');
    if (kind !== 'message' && kind !== 'progress') {
      throw encodeFieldError('message', 'kind', '"message" or "progress"', kind);
    }
    if (taskId !== undefined && (typeof taskId !== 'string' || taskId === '')) {
      throw encodeFieldError('message', 'taskId', 'a non-empty string', taskId);
    }
    if (kind === 'progress' && taskId === undefined) {
      throw new EnvelopeError('ENVELOPE_ENCODE', 'message envelope of kind "progress" needs a taskId');
    }
    const payload = encodeMsgpackShared(data);
    const idUtf8 = taskId === undefined ? null : headerUtf8(taskId);
    const idSize = taskId === undefined ? 1 : strSize(taskId, idUtf8);
    const out = allocBytes(2 + strSize(kind, null) + idSize + payload.length);
    out[0] = FIXARRAY | MESSAGE_FIELDS;
    out[1] = ENVELOPE_VERSION;
    let p = writeStr(out, 2, kind, null);
    if (taskId === undefined) out[p++] = NIL;
    else p = writeStr(out, p, taskId, idUtf8);
    writeBytes(out, p, payload);
    return out;
  } catch (err) {
    throw asEncodeError(err, 'message');
  }
}

/**
 * Decodes and validates a message envelope. A nil `taskId` is returned as an absent one.
 *
 * @throws {EnvelopeError} `ENVELOPE_MALFORMED`, `ENVELOPE_VERSION` or `ENVELOPE_INVALID` (see the
 *   module comment); never anything else for any bytes.
 */
export function decodeMessageEnvelope(bytes: Uint8Array, options?: DecodeEnvelopeOptions): MessageEnvelope {
  const decoder = msgpackDecoder(options?.maxBytes);
  const r = openEnvelope(bytes, decoder, 'message', MESSAGE_FIELDS);
  const kind = r.scalar(true);
  if (kind !== 'message' && kind !== 'progress') {
    throw decodeFieldError(r, 'message', 'kind', '"message" or "progress"', kind);
  }
  const taskId = r.scalar();
  if (taskId !== null && (typeof taskId !== 'string' || taskId === '')) {
    throw decodeFieldError(r, 'message', 'taskId', 'a non-empty string or nil', taskId);
  }
  if (kind === 'progress' && taskId === null) {
    throw new EnvelopeError('ENVELOPE_INVALID', 'message envelope of kind "progress" has no taskId');
  }
  const data = decoder.decode(bytes, r.pos, bytes.length);
  return taskId === null ? { v: ENVELOPE_VERSION, kind, data } : { v: ENVELOPE_VERSION, kind, taskId, data };
}

// ---------------------------------------------------------------------------------------------
// Shared

/**
 * Checks the size, the top-level array and `v`, and returns a reader positioned on the field
 * after `v`.
 */
function openEnvelope(
  bytes: Uint8Array,
  decoder: MsgpackDecoder,
  what: string,
  fields: number,
): MsgpackReader {
  if (!(bytes instanceof Uint8Array)) {
    throw new EnvelopeError(
      'ENVELOPE_MALFORMED',
      `${what} envelope must be a Uint8Array, got ${describeType(bytes)}`,
    );
  }
  if (bytes.length > decoder.maxBytes) {
    throw new EnvelopeError(
      'ENVELOPE_MALFORMED',
      `${what} envelope of ${bytes.length} bytes exceeds the limit of ${decoder.maxBytes} bytes`,
    );
  }
  const r = reader.reset(bytes);
  if (bytes.length === 0) throw new EnvelopeError('ENVELOPE_MALFORMED', `${what} envelope is empty`);
  const length = r.arrayLength();
  if (length < 0) {
    if (r.atMap()) return versionFromMap(bytes, decoder, what);
    throw new EnvelopeError(
      'ENVELOPE_INVALID',
      `${what} envelope must be a MessagePack array, got ${r.typeName()}`,
    );
  }
  if (length === 0) throw new EnvelopeError('ENVELOPE_VERSION', `${what} envelope has no version (v)`);
  const v = r.scalar();
  if (v !== ENVELOPE_VERSION) {
    const shown = v === NOT_SCALAR ? `(${r.typeName()})` : formatScalar(v);
    throw new EnvelopeError(
      'ENVELOPE_VERSION',
      `${what} envelope version ${shown} is not supported (expected ${ENVELOPE_VERSION})`,
    );
  }
  if (length !== fields) {
    throw new EnvelopeError(
      'ENVELOPE_INVALID',
      `${what} envelope must be an array of ${fields} fields, got ${length}`,
    );
  }
  return r;
}

/** A top-level map: decode it only to report its `v`; version 1 envelopes are never maps. */
function versionFromMap(bytes: Uint8Array, decoder: MsgpackDecoder, what: string): never {
  const map = decoder.decode(bytes, 0, bytes.length) as Record<string, unknown>;
  const v = Object.hasOwn(map, 'v') ? map.v : undefined;
  if (v === undefined) throw new EnvelopeError('ENVELOPE_VERSION', `${what} envelope has no version (v)`);
  if (v !== ENVELOPE_VERSION) {
    const shown = typeof v === 'object' && v !== null ? `(${describeType(v)})` : formatScalar(v);
    throw new EnvelopeError(
      'ENVELOPE_VERSION',
      `${what} envelope version ${shown} is not supported (expected ${ENVELOPE_VERSION})`,
    );
  }
  throw new EnvelopeError(
    'ENVELOPE_INVALID',
    `${what} envelope must be a MessagePack array (version ${ENVELOPE_VERSION} envelopes are arrays), got a map`,
  );
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

function formatScalar(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (value === null) return 'nil';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined) return String(value);
  return describeType(value);
}

function describeValue(value: unknown): string {
  const type = describeType(value);
  const t = typeof value;
  return t === 'string' || t === 'number' || t === 'boolean' || t === 'bigint'
    ? `${type} ${formatScalar(value)}`
    : type;
}

function decodeFieldError(
  r: MsgpackReader,
  what: string,
  field: string,
  expected: string,
  got: unknown,
): EnvelopeError {
  const shown = got === NOT_SCALAR ? r.typeName() : describeValue(got);
  return new EnvelopeError(
    'ENVELOPE_INVALID',
    `${what} envelope field ${field} must be ${expected}, got ${shown}`,
  );
}

function encodeFieldError(what: string, field: string, expected: string, got: unknown): EnvelopeError {
  return new EnvelopeError(
    'ENVELOPE_ENCODE',
    `${what} envelope field ${field} must be ${expected}, got ${describeValue(got)}`,
  );
}

function checkEncodeVersion(v: unknown, what: string): void {
  if (v !== undefined && v !== ENVELOPE_VERSION) {
    throw new EnvelopeError(
      'ENVELOPE_ENCODE',
      `${what} envelope version ${formatScalar(v)} cannot be written (this build writes ${ENVELOPE_VERSION})`,
    );
  }
}

function asEncodeError(err: unknown, what: string): EnvelopeError {
  if (err instanceof EnvelopeError) return err;
  const message = errorMessage(err);
  return new EnvelopeError('ENVELOPE_ENCODE', `${what} envelope cannot be encoded: ${message}`, {
    cause: err,
  });
}

// ---------------------------------------------------------------------------------------------
// Header writing: the fixed leading fields go straight into the output (sized first, then
// written), followed by a copy of the payload's encoding.

const textEncoder = new TextEncoder();

/** The UTF-8 of a header string, or `null` when it is ASCII (then written char by char). */
function headerUtf8(value: string): Uint8Array | null {
  const n = value.length;
  if (n < 32) {
    let i = 0;
    while (i < n && value.charCodeAt(i) < 0x80) i++;
    if (i === n) return null;
  }
  return textEncoder.encode(value);
}

/** The encoded size of a string whose {@link headerUtf8} is `utf8`. */
function strSize(value: string, utf8: Uint8Array | null): number {
  if (utf8 === null) return 1 + value.length;
  const n = utf8.length;
  return n < 32 ? 1 + n : n < 0x100 ? 2 + n : n < 0x10000 ? 3 + n : 5 + n;
}

/** Writes a string whose {@link headerUtf8} is `utf8` at `pos`; returns the next position. */
function writeStr(out: Uint8Array, pos: number, value: string, utf8: Uint8Array | null): number {
  if (utf8 === null) {
    const n = value.length;
    out[pos++] = 0xa0 | n;
    for (let i = 0; i < n; i++) out[pos++] = value.charCodeAt(i);
    return pos;
  }
  const n = utf8.length;
  if (n < 32) {
    out[pos++] = 0xa0 | n;
  } else if (n < 0x100) {
    out[pos++] = 0xd9;
    out[pos++] = n;
  } else if (n < 0x10000) {
    out[pos++] = 0xda;
    out[pos++] = n >>> 8;
    out[pos++] = n & 0xff;
  } else {
    out[pos++] = 0xdb;
    pos = writeU32(out, pos, n);
  }
  out.set(utf8, pos);
  return pos + n;
}

/** The encoded size of a non-negative safe integer. */
function uintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x100 ? 2 : value < 0x10000 ? 3 : value < 0x100000000 ? 5 : 9;
}

/** Writes a non-negative safe integer in its shortest form at `pos`; returns the next position. */
function writeUint(out: Uint8Array, pos: number, value: number): number {
  if (value < 0x80) {
    out[pos++] = value;
  } else if (value < 0x100) {
    out[pos++] = 0xcc;
    out[pos++] = value;
  } else if (value < 0x10000) {
    out[pos++] = 0xcd;
    out[pos++] = value >>> 8;
    out[pos++] = value & 0xff;
  } else if (value < 0x100000000) {
    out[pos++] = 0xce;
    pos = writeU32(out, pos, value);
  } else {
    out[pos++] = 0xcf;
    pos = writeU32(out, pos, Math.floor(value / 0x100000000));
    pos = writeU32(out, pos, value >>> 0);
  }
  return pos;
}

function writeU32(out: Uint8Array, pos: number, value: number): number {
  out[pos] = value >>> 24;
  out[pos + 1] = (value >>> 16) & 0xff;
  out[pos + 2] = (value >>> 8) & 0xff;
  out[pos + 3] = value & 0xff;
  return pos + 4;
}

/** Copies `payload` to `out` at `pos` (the last thing written into an envelope). */
function writeBytes(out: Uint8Array, pos: number, payload: Uint8Array): void {
  const n = payload.length;
  if (n <= 64) {
    for (let i = 0; i < n; i++) out[pos + i] = payload[i]!; // cheaper than set() when short
  } else {
    out.set(payload, pos);
  }
}
