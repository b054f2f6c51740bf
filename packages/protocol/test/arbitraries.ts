/**
 * Test data built from the runtime schema model (`src/mesos/schema.ts`): fast-check arbitraries
 * that produce valid Mesos v1 messages of any type, deterministic "every field set" messages,
 * and the defaults Mesos' JSON adds. Messages have the codec's in-memory shape: snake_case keys,
 * enums by name, `Uint8Array` bytes, 64-bit integers as `number` when safe else `bigint`,
 * repeated fields as non-empty arrays, maps as plain objects; unset fields are absent.
 */
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { MESOS_SCHEMA } from '../src/mesos/schema.generated.js';
import { type FieldModel, type MessageModel, messageModel, type ScalarKind } from '../src/mesos/schema.js';

export type Message = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Run counts

/**
 * Runs per root type of the property tests. The default keeps the normal test run fast; set
 * `MESOSKIT_PROPERTY_RUNS` (e.g. `MESOSKIT_PROPERTY_RUNS=20000`) to search harder.
 */
export const PROPERTY_RUNS: number = (() => {
  const n = Number(process.env.MESOSKIT_PROPERTY_RUNS);
  return Number.isSafeInteger(n) && n > 0 ? n : 200;
})();

/** `defaultRuns` scaled by `MESOSKIT_PROPERTY_RUNS` (relative to its default of 200). */
export function scaledRuns(defaultRuns: number): number {
  return Math.max(1, Math.round((defaultRuns * PROPERTY_RUNS) / 200));
}

/** A vitest timeout for a property test of `defaultRuns` (scaled): 20 s plus headroom for big runs. */
export function scaledTimeout(defaultRuns: number, msPerRun = 5): number {
  return 20_000 + scaledRuns(defaultRuns) * msPerRun;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Sets an own, enumerable property, also for the key `__proto__` (never touches a prototype). */
export function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A 64-bit integer in the codec's shape: a `number` when it is a safe integer, else a `bigint`. */
export function int64Value(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** `n` deterministic pseudo-random bytes (xorshift32), for large payloads that are cheap to generate. */
export function pseudoRandomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 0 || 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
  }
  return out;
}

let oneofRoot: protobuf.Root | undefined;
const oneofCache = new Map<string, string[][]>();

/** The oneof groups of a Mesos message type (field names), from the protobufjs descriptor; none for other types. */
export function oneofGroups(fullName: string): string[][] {
  let groups = oneofCache.get(fullName);
  if (!groups) {
    oneofRoot ??= protobuf.Root.fromJSON(MESOS_SCHEMA);
    const t = oneofRoot.lookup(fullName);
    groups = t instanceof protobuf.Type ? t.oneofsArray.map((o) => o.fieldsArray.map((f) => f.name)) : [];
    oneofCache.set(fullName, groups);
  }
  return groups;
}

/** Enum names whose number maps back to the same name (aliases would not round-trip). */
function canonicalNames(f: FieldModel): string[] {
  if (f.value.kind !== 'enum') throw new Error(`${f.name} is not an enum field`);
  const e = f.value.enum;
  return [...e.byName].filter(([name, n]) => e.byNumber.get(n) === name).map(([name]) => name);
}

// ---------------------------------------------------------------------------------------------
// Scalars

export interface ArbitraryOptions {
  /**
   * Levels of optional, repeated and map message fields below the root (default 2). Required
   * message fields are always filled, whatever the depth, so every message stays valid.
   */
  depth?: number;
  /**
   * `'full'` (default): 64-bit integers over their whole range, including negatives and values
   * above 2^53 (as `bigint`). `'safe'`: safe integers only.
   */
  int64?: 'full' | 'safe';
  /** Include map keys such as `__proto__` and `constructor` (default true). */
  prototypeKeys?: boolean;
  /** Occasionally produce payloads over 16 KiB so nested length prefixes take 3 bytes (default true). */
  large?: boolean;
}

type Options = Required<ArbitraryOptions>;

function withDefaults(o: ArbitraryOptions | undefined): Options {
  return { depth: 2, int64: 'full', prototypeKeys: true, large: true, ...o };
}

/** Strings that sit on the encoder's edges: the 43-unit fast path, 1-/2-/3-byte length prefixes, UTF-8 widths. */
export const EDGE_STRINGS: readonly string[] = [
  '',
  'a',
  'x'.repeat(42),
  'x'.repeat(43),
  'é'.repeat(42),
  '€'.repeat(42), // 126 bytes: the largest fast-path string
  '€'.repeat(43), // 129 bytes: 2-byte length prefix
  '🚀'.repeat(21), // 42 UTF-16 units, 84 bytes
  '🚀'.repeat(22),
  'naïve café — 日本語テキスト — 𝄞 — 😀',
  '\u0000\u007f\u0080\u07ff\u0800\uffff\u{10000}\u{10ffff}',
  'y'.repeat(127),
  'y'.repeat(128),
  'z'.repeat(300),
];

function stringArbitrary(o: Options): fc.Arbitrary<string> {
  const parts: fc.WeightedArbitrary<string>[] = [
    { arbitrary: fc.string({ maxLength: 12 }), weight: 80 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 12 }), weight: 60 },
    { arbitrary: fc.string({ unit: 'binary', minLength: 38, maxLength: 48 }), weight: 20 },
    { arbitrary: fc.string({ unit: 'grapheme', minLength: 43, maxLength: 160 }), weight: 20 },
    { arbitrary: fc.constantFrom(...EDGE_STRINGS), weight: 40 },
  ];
  if (o.large) {
    parts.push({
      // Rare (a string field is common): over 16384 bytes of UTF-8.
      arbitrary: fc.integer({ min: 5_500, max: 6_000 }).map((n) => '€'.repeat(n)),
      weight: 1,
    });
  }
  return fc.oneof(...parts);
}

function bytesArbitrary(o: Options): fc.Arbitrary<Uint8Array> {
  const parts: fc.WeightedArbitrary<Uint8Array>[] = [
    { arbitrary: fc.uint8Array({ maxLength: 8 }), weight: 18 },
    { arbitrary: fc.uint8Array({ minLength: 120, maxLength: 300 }), weight: 6 }, // around 127/128
  ];
  if (o.large) {
    parts.push({
      arbitrary: fc
        .record({ n: fc.integer({ min: 16_000, max: 17_000 }), seed: fc.integer() })
        .map(({ n, seed }) => pseudoRandomBytes(n, seed)),
      weight: 1,
    });
  }
  return fc.oneof(...parts);
}

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;
const U32_MAX = 4294967295;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const U64_MAX = 2n ** 64n - 1n;

const SIGNED_64_EDGES = [0n, -1n, 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) + 1n];
const SIGNED_64_FULL_EDGES = [...SIGNED_64_EDGES, -(2n ** 53n), -(2n ** 53n) - 1n, I64_MIN, I64_MAX];
const UNSIGNED_64_EDGES = [0n, 1n, 127n, 128n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, U64_MAX];

/** An arbitrary of one scalar value of the given protobuf kind, in the codec's in-memory shape. */
export function scalarArbitrary(kind: ScalarKind, options?: ArbitraryOptions): fc.Arbitrary<unknown> {
  const o = withDefaults(options);
  const safe = o.int64 === 'safe';
  switch (kind) {
    case 'double':
      return fc.oneof(
        { arbitrary: fc.double({ noNaN: true }), weight: 3 },
        { arbitrary: fc.integer(), weight: 2 }, // integral: printed with `.0` in JSON
        { arbitrary: fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => n / 64), weight: 1 },
        {
          arbitrary: fc.constantFrom(
            0,
            -0,
            0.1,
            1.5,
            5,
            15,
            1e21,
            1e-7,
            5e-324,
            2 ** 53 + 2,
            Number.MAX_VALUE,
            -Number.MAX_VALUE,
            Number.POSITIVE_INFINITY,
            Number.NEGATIVE_INFINITY,
          ),
          weight: 2,
        },
      );
    case 'float':
      return fc.oneof(
        fc.float({ noNaN: true }),
        fc.constantFrom(0, -0, 1.5, Math.fround(0.1), Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
      );
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return fc.oneof(fc.integer(), fc.constantFrom(0, -1, 1, 127, 128, -64, -65, I32_MIN, I32_MAX));
    case 'uint32':
    case 'fixed32':
      return fc.oneof(
        fc.integer({ min: 0, max: 300 }),
        fc.bigInt({ min: 0n, max: BigInt(U32_MAX) }).map(Number),
        fc.constantFrom(0, 127, 128, 16383, 16384, 2 ** 31, U32_MAX),
      );
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return safe
        ? fc.oneof(
            fc.maxSafeInteger(),
            fc.integer(),
            fc.constantFrom(...SIGNED_64_EDGES.map(int64Value).filter((v) => typeof v === 'number')),
          )
        : fc.oneof(
            fc.maxSafeInteger(),
            fc.integer(),
            fc.bigInt({ min: I64_MIN, max: I64_MAX }).map(int64Value),
            fc.constantFrom(...SIGNED_64_FULL_EDGES.map(int64Value)),
          );
    case 'uint64':
    case 'fixed64':
      return safe
        ? fc.oneof(
            fc.maxSafeNat(),
            fc.constantFrom(...UNSIGNED_64_EDGES.map(int64Value).filter((v) => typeof v === 'number')),
          )
        : fc.oneof(
            fc.maxSafeNat(),
            fc.bigInt({ min: 0n, max: U64_MAX }).map(int64Value),
            fc.constantFrom(...UNSIGNED_64_EDGES.map(int64Value)),
          );
    case 'bool':
      return fc.boolean();
    case 'string':
      return stringArbitrary(o);
    case 'bytes':
      return bytesArbitrary(o);
  }
}

// ---------------------------------------------------------------------------------------------
// Messages

const MAP_KEY_EDGES = ['cpus', 'mem', '', '1', '10', 'é🚀'];
const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];

function mapKeyArbitrary(f: FieldModel, o: Options): fc.Arbitrary<string> {
  if (f.keyType === 'string') {
    return fc.oneof(
      { arbitrary: fc.string({ maxLength: 8 }), weight: 3 },
      { arbitrary: fc.constantFrom(...MAP_KEY_EDGES), weight: 1 },
      ...(o.prototypeKeys ? [{ arbitrary: fc.constantFrom(...PROTOTYPE_KEYS), weight: 1 }] : []),
    );
  }
  if (f.keyType === 'bool' || f.keyType === 'bytes' || f.keyType === undefined)
    throw new Error(`map key type ${String(f.keyType)} is not supported by the arbitraries`);
  return scalarArbitrary(f.keyType, o).map(String);
}

class Builder {
  readonly #cache = new Map<string, fc.Arbitrary<Message>>();
  constructor(readonly options: Options) {}

  message(model: MessageModel, depth: number): fc.Arbitrary<Message> {
    const key = `${model.fullName}@${depth}`;
    const cached = this.#cache.get(key);
    if (cached) return cached;
    // No cycle can reach this type again at the same depth: optional message fields stop at
    // depth 0 and required fields never form a cycle (such a message could not exist).
    const names = model.fields.map((f) => f.name);
    const parts = model.fields.map((f) => this.field(f, depth));
    const groups = oneofGroups(model.fullName);
    const built = fc.tuple(...parts).map((values) => {
      const m: Message = {};
      values.forEach((v, i) => {
        if (v !== undefined) m[names[i]!] = v;
      });
      // Mesos never sets two members of a oneof; keep the first one set.
      for (const group of groups) {
        const set = group.filter((n) => m[n] !== undefined);
        for (const n of set.slice(1)) delete m[n];
      }
      return m;
    });
    this.#cache.set(key, built);
    return built;
  }

  value(f: FieldModel, depth: number): fc.Arbitrary<unknown> {
    const v = f.value;
    if (v.kind === 'message') return this.message(v.message, Math.max(0, depth - 1));
    if (v.kind === 'enum') return fc.constantFrom(...canonicalNames(f));
    return scalarArbitrary(v.scalar, this.options);
  }

  field(f: FieldModel, depth: number): fc.Arbitrary<unknown> {
    if (f.rule === 'required') return this.value(f, depth);
    if (f.value.kind === 'message' && depth <= 0) return fc.constant(undefined);
    let arb: fc.Arbitrary<unknown>;
    if (f.rule === 'repeated') {
      arb = fc.array(this.value(f, depth), { minLength: 1, maxLength: 3 });
    } else if (f.rule === 'map') {
      arb = fc
        .uniqueArray(fc.tuple(mapKeyArbitrary(f, this.options), this.value(f, depth)), {
          minLength: 1,
          maxLength: 3,
          selector: ([k]) => k,
        })
        .map((entries) => {
          const o: Record<string, unknown> = {};
          for (const [k, v] of entries) setOwn(o, k, v);
          return o;
        });
    } else {
      arb = this.value(f, depth);
    }
    // Unset about two times in three (an empty repeated/map field is the same as an unset one).
    return fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: arb, weight: 1 });
  }
}

const builders = new Map<string, Builder>();

/**
 * An arbitrary of valid messages of the given type: every required field, random subsets of the
 * optional ones, 1–3 elements in repeated and map fields that are set, recursion (e.g.
 * `ContainerID.parent`) bounded by `depth`.
 */
export function messageArbitrary(fullName: string, options?: ArbitraryOptions): fc.Arbitrary<Message> {
  return modelArbitrary(messageModel(fullName), options);
}

/** Like `messageArbitrary`, for any message model (e.g. one built from a test-only `.proto`). */
export function modelArbitrary(model: MessageModel, options?: ArbitraryOptions): fc.Arbitrary<Message> {
  const o = withDefaults(options);
  const key = JSON.stringify([o.int64, o.prototypeKeys, o.large]);
  let b = builders.get(key);
  if (!b) {
    b = new Builder(o);
    builders.set(key, b);
  }
  return b.message(model, o.depth);
}

// ---------------------------------------------------------------------------------------------
// Deterministic messages

/** A deterministic value of a field (index picks one of a few per kind). */
function fixedValue(f: FieldModel, index: number): unknown {
  const v = f.value;
  if (v.kind === 'message') return requiredOnlyMessage(v.message.fullName);
  if (v.kind === 'enum') {
    const names = canonicalNames(f);
    return names[(names.length - 1 - index + names.length) % names.length];
  }
  switch (v.scalar) {
    case 'string':
      return index === 0 ? `${f.name} é日🚀` : `${f.name}:`.padEnd(60, '·');
    case 'bytes':
      return Uint8Array.from({ length: index === 0 ? 3 + f.id : 130 }, (_, i) => (i * 37 + f.id) & 255);
    case 'bool':
      return index === 0;
    case 'double':
    case 'float':
      return index === 0 ? f.id + 0.5 : -f.id;
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return index === 0 ? -f.id - 1 : 300 + f.id;
    case 'uint32':
    case 'fixed32':
      return index === 0 ? U32_MAX - f.id : 200 + f.id;
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return index === 0 ? -(Number.MAX_SAFE_INTEGER - f.id) : 1_700_000_000_000 + f.id;
    case 'uint64':
    case 'fixed64':
      return index === 0 ? Number.MAX_SAFE_INTEGER - f.id : 4_294_967_296 + f.id;
  }
}

/** A deterministic message with only the required fields set (recursively). */
export function requiredOnlyMessage(fullName: string): Message {
  const m: Message = {};
  for (const f of messageModel(fullName).requiredFields) m[f.name] = fixedValue(f, 0);
  return m;
}

/**
 * A deterministic message with EVERY field of the type set (repeated and map fields with two
 * entries); message-typed values below the top level carry only their required fields.
 */
export function fullMessage(fullName: string): Message {
  const m: Message = {};
  for (const f of messageModel(fullName).fields) {
    if (f.rule === 'repeated') m[f.name] = [fixedValue(f, 0), fixedValue(f, 1)];
    else if (f.rule === 'map') m[f.name] = { a: fixedValue(f, 0), 'b-é': fixedValue(f, 1) };
    else m[f.name] = fixedValue(f, 0);
  }
  return m;
}

/** The sub-message field of a root type's `type` value (`SUBSCRIBE` → `subscribe`), if it has one. */
export function subMessageField(root: string, typeValue: string): FieldModel | undefined {
  const f = messageModel(root).fields.find((x) => x.name === typeValue.toLowerCase());
  return f?.value.kind === 'message' ? f : undefined;
}

/** The names of a root type's `type` enum, e.g. every `mesos.v1.scheduler.Call.Type`. */
export function typeValues(root: string): string[] {
  const f = messageModel(root).fields.find((x) => x.name === 'type');
  if (f?.value.kind !== 'enum') throw new Error(`${root} has no enum field 'type'`);
  return [...f.value.enum.byName.keys()];
}

/**
 * A root message (Call or Event) of the given `type`: its required fields, the `type`, and the
 * matching sub-message with every field set (`fullMessage`).
 */
export function rootMessageOfType(root: string, typeValue: string): Message {
  const m = requiredOnlyMessage(root);
  if (root === 'mesos.v1.scheduler.Call' && typeValue !== 'SUBSCRIBE') m.framework_id = { value: 'fw-1 é' };
  m.type = typeValue;
  const sub = subMessageField(root, typeValue);
  if (sub && sub.value.kind === 'message') m[sub.name] = fullMessage(sub.value.message.fullName);
  return m;
}

// ---------------------------------------------------------------------------------------------
// Mesos JSON defaults

function mapMessages(f: FieldModel, v: unknown, fn: (model: MessageModel, m: Message) => Message): unknown {
  if (f.value.kind !== 'message') return v;
  const model = f.value.message;
  if (f.rule === 'repeated') return (v as Message[]).map((x) => fn(model, x));
  if (f.rule === 'map') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, Message>)) setOwn(out, k, fn(model, x));
    return out;
  }
  return fn(model, v as Message);
}

function fillDefaults(model: MessageModel, m: Message): Message {
  const out: Message = {};
  for (const f of model.fields) {
    const v = m[f.name];
    if (v === undefined || v === null) {
      if (f.rule === 'optional' && f.defaultValue !== undefined && !f.deprecated)
        out[f.name] = f.defaultValue;
    } else {
      out[f.name] = mapMessages(f, v, fillDefaults);
    }
  }
  return out;
}

/**
 * The message Mesos' JSON round trip yields: a copy of `m` with every unset, non-deprecated
 * optional field that declares a `[default = …]` filled with that default, at every level
 * where a message is present (this is what `toJSON` prints and `fromJSON` then reads back).
 */
export function withJsonDefaults(fullName: string, m: Message): Message {
  return fillDefaults(messageModel(fullName), m);
}

// ---------------------------------------------------------------------------------------------
// Exact comparison

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (v instanceof Uint8Array) return `${v.constructor.name}(${v.length})`;
  if (Array.isArray(v)) return `array(${v.length})`;
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  return typeof v === 'object' && v !== null ? 'object' : String(v);
}

/**
 * The first difference between two messages, or `undefined` when they are the same: same own
 * keys, plain objects and arrays, `Uint8Array` (not a subclass such as `Buffer`) with the same
 * bytes, `number` vs `bigint` kept apart, `-0` ≠ `0`, `NaN` = `NaN`. (vitest's `toStrictEqual`
 * cannot compare maps with a `constructor` key: it reads `.constructor` to compare classes.)
 */
export function messageDiff(actual: unknown, expected: unknown, path = '$'): string | undefined {
  const differ = (): string => `${path}: got ${show(actual)}, expected ${show(expected)}`;
  if (typeof actual !== typeof expected) return differ();
  if (typeof actual === 'number') return Object.is(actual, expected) ? undefined : differ();
  if (typeof actual !== 'object' || actual === null || expected === null) {
    return actual === expected ? undefined : differ();
  }
  const e = expected as object;
  if (actual instanceof Uint8Array || e instanceof Uint8Array) {
    if (Object.getPrototypeOf(actual) !== Uint8Array.prototype) return differ();
    if (Object.getPrototypeOf(e) !== Uint8Array.prototype) return differ();
    const a = actual as Uint8Array;
    const b = e as Uint8Array;
    if (a.length !== b.length) return differ();
    const i = a.findIndex((x, k) => x !== b[k]);
    return i < 0 ? undefined : `${path}[${i}]: got byte ${a[i]}, expected ${b[i]}`;
  }
  if (Array.isArray(actual) || Array.isArray(e)) {
    if (!Array.isArray(actual) || !Array.isArray(e) || actual.length !== e.length) return differ();
    for (let i = 0; i < actual.length; i++) {
      const d = messageDiff(actual[i], e[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (Object.getPrototypeOf(actual) !== Object.prototype) return `${path}: not a plain object`;
  const ak = Object.keys(actual).sort();
  const ek = Object.keys(e).sort();
  if (ak.join('\u0000') !== ek.join('\u0000')) return `${path}: keys [${ak}] ≠ expected [${ek}]`;
  for (const k of ak) {
    const d = messageDiff(
      (actual as Record<string, unknown>)[k],
      (e as Record<string, unknown>)[k],
      `${path}.${k}`,
    );
    if (d) return d;
  }
  return undefined;
}

/** A protobuf varint (any 64-bit value, two's complement for negatives), for hand-built bytes. */
export function varint(v: number | bigint): number[] {
  let n = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (n > 127n) {
    out.push(Number(n & 127n) | 128);
    n >>= 7n;
  }
  out.push(Number(n));
  return out;
}

/** A protobuf field tag. */
export const tag = (field: number, wireType: number): number[] => varint(field * 8 + wireType);
