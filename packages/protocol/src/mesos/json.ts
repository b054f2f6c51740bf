/**
 * Mesos' JSON mapping of v1 messages (not proto3's): proto field names, enums by name, `bytes`
 * as standard base64, 64-bit integers as JSON numbers, keys in `.proto` declaration order, and
 * every unset optional field that declares a `[default = …]` (and is not deprecated) printed
 * with its default, as Mesos does. Doubles print like rapidjson: integral values keep a `.0`,
 * infinities are the strings `"Infinity"` / `"-Infinity"`.
 *
 * Parsing is as lenient as Mesos: unknown keys are ignored, `null` means unset, integers and
 * doubles may be numeric strings, booleans may be `"true"` / `"false"`, a single value stands
 * for a one-element list, and an unknown name in an optional enum field leaves it unset. What
 * Mesos rejects is rejected with Mesos' own wording (`Not expecting a JSON string for field
 * 'framework_id'`, `Missing required fields: subscribe.framework_info.user`).
 */
import { MesosMessageError } from '../errors.js';
import type { FieldModel, MessageModel, ScalarKind } from './schema.js';

class JsonFailure extends Error {
  constructor(
    message: string,
    readonly missing = false,
  ) {
    super(message);
  }
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

// ---------------------------------------------------------------------------------------------
// Serialising

/**
 * Formats a double as Mesos does: integral values with `.0`, exponents without `+`, infinities
 * as strings. Other values get the shortest text that reads back as the same double; Mesos'
 * rapidjson sometimes prints a longer text for the same double (`1795257458.2556239` where this
 * prints `1795257458.2556238`), which every JSON parser reads as the same value.
 */
export function formatDouble(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return '"Infinity"';
  if (v === Number.NEGATIVE_INFINITY) return '"-Infinity"';
  if (Number.isNaN(v)) throw new JsonFailure('NaN cannot be written as JSON');
  if (Number.isInteger(v) && Math.abs(v) < 1e21) return Object.is(v, -0) ? '-0.0' : `${v}.0`;
  // Exponents as rapidjson writes them: `1e21`, `1.5e-7` (JavaScript says `1e+21`).
  return String(v).replace('e+', 'e');
}

function toBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'a Uint8Array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(String(v)).slice(0, 42)}`;
}

function writeScalar(kind: ScalarKind, v: unknown, where: string): string {
  switch (kind) {
    case 'double':
    case 'float':
      if (typeof v !== 'number') throw new JsonFailure(`${where}: expected a number, got ${describe(v)}`);
      if (Number.isNaN(v)) {
        if (checkingOnly) return 'NaN';
        throw new JsonFailure(`${where}: NaN cannot be written as JSON`);
      }
      return formatDouble(v);
    case 'bool':
      if (typeof v !== 'boolean') throw new JsonFailure(`${where}: expected a boolean, got ${describe(v)}`);
      return v ? 'true' : 'false';
    case 'string':
      if (typeof v !== 'string') throw new JsonFailure(`${where}: expected a string, got ${describe(v)}`);
      return JSON.stringify(v);
    case 'bytes':
      if (!(v instanceof Uint8Array))
        throw new JsonFailure(`${where}: expected a Uint8Array, got ${describe(v)}`);
      return `"${toBase64(v)}"`;
    default: {
      // Integers of every width: exact digits, from a number or a bigint, within the field's range.
      if (typeof v !== 'bigint' && (typeof v !== 'number' || !Number.isInteger(v)))
        throw new JsonFailure(`${where}: expected an integer, got ${describe(v)}`);
      const range = INT_RANGES[kind]!;
      if (typeof v === 'number' && Number.isSafeInteger(v)) {
        if (v < Number(range[0]) || v > Number(range[1]))
          throw new JsonFailure(`${where}: ${v} is out of range (${kind})`);
        return String(v);
      }
      const big = BigInt(v);
      if (big < range[0] || big > range[1])
        throw new JsonFailure(`${where}: ${big} is out of range (${kind})`);
      return big.toString();
    }
  }
}

function writeValue(f: FieldModel, v: unknown, where: string): string {
  const val = f.value;
  if (val.kind === 'message') return writeMessage(val.message, v, where);
  if (val.kind === 'enum') {
    if (typeof v !== 'string' || !val.enum.byName.has(v))
      throw new JsonFailure(`${where}: ${describe(v)} is not a ${val.enum.fullName} name`);
    return `"${v}"`;
  }
  return writeScalar(val.scalar, v, where);
}

function writeMessage(model: MessageModel, m: unknown, where: string): string {
  if (typeof m !== 'object' || m === null || Array.isArray(m) || m instanceof Uint8Array)
    throw new JsonFailure(`${where}: expected an object, got ${describe(m)}`);
  const o = m as Record<string, unknown>;
  let s = '{';
  let first = true;
  for (const f of model.fields) {
    const v = o[f.name];
    const path = where ? `${where}.${f.name}` : f.name;
    let text: string;
    if (v === undefined || v === null) {
      if (f.rule === 'required') throw new JsonFailure(`missing required field ${path}`, true);
      if (f.defaultValue === undefined || f.deprecated || f.rule !== 'optional') continue;
      text = writeValue(f, f.defaultValue, path);
    } else if (f.rule === 'repeated') {
      if (!Array.isArray(v)) throw new JsonFailure(`${path}: expected an array, got ${describe(v)}`);
      if (v.length === 0) continue;
      text = '[';
      for (let i = 0; i < v.length; i++) text += (i ? ',' : '') + writeValue(f, v[i], `${path}[${i}]`);
      text += ']';
    } else if (f.rule === 'map') {
      if (typeof v !== 'object' || Array.isArray(v))
        throw new JsonFailure(`${path}: expected an object, got ${describe(v)}`);
      const keys = Object.keys(v);
      if (keys.length === 0) continue;
      text = '{';
      keys.forEach((k, i) => {
        text += `${i ? ',' : ''}${JSON.stringify(k)}:${writeValue(f, (v as Record<string, unknown>)[k], `${path}.${k}`)}`;
      });
      text += '}';
    } else {
      text = writeValue(f, v, path);
    }
    s += `${first ? '' : ','}"${f.name}":${text}`;
    first = false;
  }
  return `${s}}`;
}

/** Serialises a message to Mesos' JSON text. */
/** True while `findEncodeProblem` walks a message for the protobuf encoder (NaN is fine there). */
let checkingOnly = false;

/**
 * Walks a message with the JSON writer's checks to name what cannot be encoded, by its dotted
 * path from the root (`subscribe.framework_info.user`). The protobuf encoder only knows
 * `Type.field`, so the codec asks this when a protobuf encode fails; a success costs nothing.
 */
export function findEncodeProblem(
  model: MessageModel,
  message: unknown,
): { code: 'MESOS_MISSING_REQUIRED' | 'MESOS_ENCODE_INVALID'; detail: string } | undefined {
  checkingOnly = true;
  try {
    writeMessage(model, message, '');
    return undefined;
  } catch (err) {
    if (err instanceof JsonFailure) {
      return { code: err.missing ? 'MESOS_MISSING_REQUIRED' : 'MESOS_ENCODE_INVALID', detail: err.message };
    }
    return undefined;
  } finally {
    checkingOnly = false;
  }
}

export function messageToJson(model: MessageModel, message: unknown): string {
  try {
    return writeMessage(model, message, '');
  } catch (err) {
    if (err instanceof JsonFailure) {
      throw new MesosMessageError(
        err.missing ? 'MESOS_MISSING_REQUIRED' : 'MESOS_ENCODE_INVALID',
        model.fullName,
        `cannot encode ${model.fullName} as JSON: ${err.message}`,
      );
    }
    // A cyclic or absurdly deep message, as the protobuf encoder reports it.
    if (err instanceof RangeError) {
      throw new MesosMessageError(
        'MESOS_ENCODE_INVALID',
        model.fullName,
        `cannot encode ${model.fullName} as JSON: ${err}`,
        { cause: err },
      );
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/**
 * `JSON.parse` rounds integers beyond 2^53, but Mesos prints 64-bit integers as bare numbers
 * (`TimeInfo.nanoseconds` ≈ 1.7e18). Before parsing, integer literals of 16 or more digits
 * outside strings are turned into strings that start with a mark (a NUL, which JSON text can
 * only hold escaped, then `mesoskit:int:`), and the integer readers take them back exactly.
 * Every other reader treats a marked string as the number it was.
 */
const MAYBE_LONG_INTEGER = /\d{16}/;
/** The mark of a long integer literal: a string can only start so if its text escaped all of it. */
const LONG_MARK = '\u0000mesoskit:int:';
const LONG_INTEGER = /"(?:[^"\\]|\\.)*"|(?<![\w.+-])-?\d{16,}(?![\w.])/g;

function keepLongIntegers(text: string): string {
  if (!MAYBE_LONG_INTEGER.test(text)) return text;
  return text.replace(LONG_INTEGER, (t) => (t.charCodeAt(0) === 34 ? t : `"\\u0000mesoskit:int:${t}"`));
}

/** The digits of a marked long integer literal, or `undefined`. */
function bareDigits(v: unknown): string | undefined {
  return typeof v === 'string' && v.charCodeAt(0) === 0 && v.startsWith(LONG_MARK)
    ? v.slice(LONG_MARK.length)
    : undefined;
}

function jsonKind(v: unknown): string {
  if (bareDigits(v) !== undefined) return 'number';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? 'object' : typeof v;
}

function notExpecting(v: unknown, f: FieldModel): JsonFailure {
  return new JsonFailure(`Not expecting a JSON ${jsonKind(v)} for field '${f.name}'`);
}

const INT_RANGES: Partial<Record<ScalarKind, [bigint, bigint]>> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

const NUMERIC = /^\s*-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?\s*$/;
const INTEGER = /^\s*-?\d+\s*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function readInteger(kind: ScalarKind, v: unknown, f: FieldModel): number | bigint {
  let n: number | bigint;
  v = bareDigits(v) ?? v;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new JsonFailure(`Expecting an integer for field '${f.name}', got ${v}`);
    // An integral number beyond 2^53 given as a value (not text) is taken as the double it is.
    n = Number.isSafeInteger(v) ? v : BigInt(v);
  } else if (typeof v === 'string') {
    if (!INTEGER.test(v)) {
      if (NUMERIC.test(v) && Number.isInteger(Number(v))) n = Number(v);
      else throw new JsonFailure(`Failed to convert '${v.slice(0, 40)}' to number for field '${f.name}'`);
    } else {
      const big = BigInt(v.trim());
      n =
        big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
    }
  } else {
    throw notExpecting(v, f);
  }
  const range = INT_RANGES[kind]!;
  const big = typeof n === 'bigint' ? n : Number.isSafeInteger(n) ? BigInt(n) : undefined;
  if (big === undefined || big < range[0] || big > range[1])
    throw new JsonFailure(`Value ${String(n)} is out of range for field '${f.name}' (${kind})`);
  return n;
}

function readScalar(kind: ScalarKind, v: unknown, f: FieldModel): unknown {
  switch (kind) {
    case 'string':
      if (typeof v !== 'string' || bareDigits(v) !== undefined) throw notExpecting(v, f);
      return v;
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === 'false') return v === 'true';
      throw notExpecting(v, f);
    case 'double':
    case 'float':
      if (typeof v === 'number') return v;
      if (bareDigits(v) !== undefined) return Number(bareDigits(v));
      if (typeof v === 'string') {
        if (v === 'Infinity') return Number.POSITIVE_INFINITY;
        if (v === '-Infinity') return Number.NEGATIVE_INFINITY;
        if (NUMERIC.test(v)) return Number(v);
        throw new JsonFailure(`Failed to convert '${v.slice(0, 40)}' to number for field '${f.name}'`);
      }
      throw notExpecting(v, f);
    case 'bytes': {
      if (typeof v !== 'string' || bareDigits(v) !== undefined) throw notExpecting(v, f);
      const compact = v.replace(/\s+/g, '');
      if (!BASE64.test(compact) || compact.replace(/=+$/, '').length % 4 === 1)
        throw new JsonFailure(`Failed to base64-decode the value of field '${f.name}'`);
      return new Uint8Array(Buffer.from(compact, 'base64'));
    }
    default:
      return readInteger(kind, v, f);
  }
}

interface ParseState {
  missing: string[];
}

/** Returns `undefined` for an enum name Mesos would discard. */
function readValue(f: FieldModel, v: unknown, path: string, st: ParseState): unknown {
  const val = f.value;
  if (val.kind === 'message') {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw notExpecting(v, f);
    return readMessage(val.message, v as Record<string, unknown>, path, st);
  }
  if (val.kind === 'enum') {
    if (typeof v !== 'string' || bareDigits(v) !== undefined) throw notExpecting(v, f);
    if (val.enum.byName.has(v)) return v;
    if (f.rule === 'required') throw new JsonFailure(`Failed to find enum for '${v.slice(0, 80)}'`);
    return undefined;
  }
  return readScalar(val.scalar, v, f);
}

function setKey(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__')
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

function readMessage(
  model: MessageModel,
  json: Record<string, unknown>,
  where: string,
  st: ParseState,
): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  for (const f of model.fields) {
    const path = where ? `${where}.${f.name}` : f.name;
    const v = Object.hasOwn(json, f.name) ? json[f.name] : undefined;
    if (v === undefined || v === null) {
      if (f.rule === 'required') st.missing.push(path);
      continue;
    }
    if (f.rule === 'repeated') {
      const items = Array.isArray(v) ? v : [v];
      const out: unknown[] = [];
      for (const item of items) {
        if (item === null) throw notExpecting(item, f);
        const x = readValue(f, item, path, st);
        if (x !== undefined) out.push(x);
      }
      if (out.length > 0) m[f.name] = out;
    } else if (f.rule === 'map') {
      if (typeof v !== 'object' || Array.isArray(v)) throw notExpecting(v, f);
      // Mesos sees a map as repeated entries { key, value }: errors in a value name field 'value'.
      const entry: FieldModel = { ...f, name: 'value' };
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) {
        if (item === null) continue;
        const x = readValue(entry, item, `${path}.${k}`, st);
        if (x !== undefined) setKey(out, k, x);
      }
      if (Object.keys(out).length > 0) m[f.name] = out;
    } else {
      if (Array.isArray(v)) throw notExpecting(v, f);
      const x = readValue(f, v, path, st);
      if (x !== undefined) m[f.name] = x;
      else if (f.rule === 'required') st.missing.push(path);
    }
  }
  return m;
}

/** Converts an already parsed JSON value (e.g. from `JSON.parse`) into a message. */
export function messageFromJsonValue(model: MessageModel, json: unknown): Record<string, unknown> {
  const fail = (code: 'MESOS_JSON_INVALID' | 'MESOS_MISSING_REQUIRED', detail: string): never => {
    throw new MesosMessageError(
      code,
      model.fullName,
      // Mesos' own wording, which names the message by its short name (`Call`).
      `Failed to convert JSON into ${model.fullName.slice(model.fullName.lastIndexOf('.') + 1)} protobuf: ${detail}`,
    );
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return fail('MESOS_JSON_INVALID', `Expecting a JSON object, got ${jsonKind(json)}`);
  }
  const st: ParseState = { missing: [] };
  let m: Record<string, unknown>;
  try {
    m = readMessage(model, json as Record<string, unknown>, '', st);
  } catch (err) {
    if (err instanceof JsonFailure) return fail('MESOS_JSON_INVALID', err.message);
    if (err instanceof RangeError) return fail('MESOS_JSON_INVALID', 'nesting too deep');
    throw err;
  }
  if (st.missing.length > 0)
    fail('MESOS_MISSING_REQUIRED', `Missing required fields: ${st.missing.join(', ')}`);
  return m;
}

/** Parses Mesos JSON text (a string or UTF-8 bytes) into a message. */
export function messageFromJson(model: MessageModel, text: string | Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(keepLongIntegers(typeof text === 'string' ? text : textDecoder.decode(text)));
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new MesosMessageError(
      'MESOS_JSON_SYNTAX',
      model.fullName,
      `Failed to parse body into JSON: ${detail}`,
      {
        cause: err,
      },
    );
  }
  return messageFromJsonValue(model, value);
}
