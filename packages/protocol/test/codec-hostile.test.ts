/**
 * Hostile input for the Mesos v1 codecs: random and mutated protobuf, absurd lengths and
 * nesting, every JSON rule of Mesos' converter (docs/…/mesos-v1-api.md §1.10), prototype
 * pollution attempts, and wrong JS values given to the encoders. Whatever comes in, the codecs
 * either succeed or throw a `MesosMessageError` with one of its codes: never a `TypeError`,
 * never a `RangeError`, never a crash.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MesosMessageError, type MesosMessageErrorCode } from '../src/errors.js';
import { codecFor, type MessageCodec, schedulerCall } from '../src/mesos/codec.js';
import { allMessageTypeNames, messageModel } from '../src/mesos/schema.js';
import {
  type Message,
  messageArbitrary,
  messageDiff,
  requiredOnlyMessage,
  rootMessageOfType,
  scaledRuns,
  scaledTimeout,
  setOwn,
  tag,
  typeValues,
  varint,
  withJsonDefaults,
} from './arbitraries.js';

const ROOTS = [
  'mesos.v1.scheduler.Call',
  'mesos.v1.scheduler.Event',
  'mesos.v1.executor.Call',
  'mesos.v1.executor.Event',
] as const;

const codec = (name: string): MessageCodec<Message> => codecFor<Message>(name);
const call = codec('mesos.v1.scheduler.Call');

const DECODE_CODES: readonly MesosMessageErrorCode[] = ['MESOS_PROTOBUF_INVALID', 'MESOS_MISSING_REQUIRED'];
const JSON_CODES: readonly MesosMessageErrorCode[] = [
  'MESOS_JSON_SYNTAX',
  'MESOS_JSON_INVALID',
  'MESOS_MISSING_REQUIRED',
];
const ENCODE_CODES: readonly MesosMessageErrorCode[] = ['MESOS_ENCODE_INVALID', 'MESOS_MISSING_REQUIRED'];

/** Runs `fn`; returns its result, or the error when it is a `MesosMessageError` with one of `codes` (else rethrows). */
function typed<T>(codes: readonly MesosMessageErrorCode[], fn: () => T): T | MesosMessageError {
  try {
    return fn();
  } catch (err) {
    if (err instanceof MesosMessageError && codes.includes(err.code)) return err;
    throw new Error(`expected a MesosMessageError (${codes.join('/')}), got: ${String(err)}`, { cause: err });
  }
}

/** Expects `fn` to throw a `MesosMessageError` of `code` whose message contains `text`; returns it. */
function expectError(
  fn: () => unknown,
  code: MesosMessageErrorCode,
  text?: string | RegExp,
): MesosMessageError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'expected a throw').toBeInstanceOf(MesosMessageError);
  const err = thrown as MesosMessageError;
  expect({ code: err.code, message: err.message }).toMatchObject({ code });
  if (text !== undefined) expect(err.message).toMatch(text);
  return err;
}

function expectSame(actual: unknown, expected: unknown): void {
  expect(messageDiff(actual, expected)).toBeUndefined();
}

/**
 * Decodes hostile bytes: a typed error, or a message that is valid in every way (it re-encodes,
 * and decoding that is a fixed point; it also converts to JSON unless it holds a NaN).
 */
function checkDecode(c: MessageCodec<Message>, bytes: Uint8Array): 'ok' | 'error' {
  const m = typed(DECODE_CODES, () => c.fromProtobuf(bytes));
  if (m instanceof MesosMessageError) return 'error';
  const again = c.toProtobuf(m);
  const back = c.fromProtobuf(again);
  expectSame(back, m);
  expect(Buffer.from(c.toProtobuf(back)).equals(again)).toBe(true);
  typed(['MESOS_ENCODE_INVALID'], () => c.toJSON(m)); // only NaN may refuse
  return 'ok';
}

// ---------------------------------------------------------------------------------------------
// Wire helpers

const ld = (field: number, body: number[]): number[] => [...tag(field, 2), ...varint(body.length), ...body];
const utf8 = (s: string): number[] => [...new TextEncoder().encode(s)];

/**
 * A `ContainerID` nested `depth` levels through `parent` (field 2), each level with its
 * required `value` (field 1), written front to back without quadratic copying.
 */
function deepContainerId(depth: number): Uint8Array {
  const value = ld(1, utf8('c'));
  // sizes[k]: the encoded size of the message k levels above the innermost one.
  const sizes = [value.length];
  for (let k = 1; k <= depth; k++) {
    const inner = sizes[k - 1]!;
    sizes.push(value.length + tag(2, 2).length + varint(inner).length + inner);
  }
  const out = new Uint8Array(sizes[depth]!);
  let p = 0;
  for (let k = depth; k >= 1; k--) {
    for (const b of [...value, ...tag(2, 2), ...varint(sizes[k - 1]!)]) out[p++] = b;
  }
  for (const b of value) out[p++] = b;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries of hostile protobuf

/** Protobuf-shaped noise: fields with small numbers (so they hit real fields), any wire type, nested. */
function protobufNoise(depth: number): fc.Arbitrary<number[]> {
  const field = fc.integer({ min: 1, max: 20 });
  const leaves: fc.Arbitrary<number[]>[] = [
    fc
      .tuple(field, fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.nat(300)))
      .map(([f, v]) => [...tag(f, 0), ...varint(v)]),
    fc.tuple(field, fc.uint8Array({ maxLength: 12 })).map(([f, b]) => ld(f, [...b])),
    fc
      .tuple(field, fc.constantFrom(1, 5), fc.uint8Array({ minLength: 8, maxLength: 8 }))
      .map(([f, wt, b]) => [...tag(f, wt), ...b.subarray(0, wt === 1 ? 8 : 4)]),
    fc.uint8Array({ maxLength: 4 }).map((b) => [...b]), // raw garbage
  ];
  const inner = depth > 0 ? protobufNoise(depth - 1) : undefined;
  const nested: fc.Arbitrary<number[]>[] = inner
    ? [
        fc.tuple(field, inner).map(([f, body]) => ld(f, body)),
        fc.tuple(field, inner).map(([f, body]) => [...tag(f, 3), ...body, ...tag(f, 4)]),
      ]
    : [];
  return fc.array(fc.oneof(...leaves, ...nested), { maxLength: 6 }).map((fields) => fields.flat());
}

interface Mutation {
  kind: 'flip' | 'set' | 'insert' | 'delete' | 'truncate';
  at: number;
  byte: number;
}
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('flip', 'set', 'insert', 'delete', 'truncate'),
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  byte: fc.integer({ min: 0, max: 255 }),
});

function mutate(input: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b = [...input];
  for (const { kind, at, byte } of mutations) {
    const i = Math.min(b.length, Math.floor(at * (b.length + 1)));
    if (kind === 'flip' && i < b.length) b[i] = b[i]! ^ (1 << (byte & 7));
    else if (kind === 'set' && i < b.length) b[i] = byte;
    else if (kind === 'insert') b.splice(i, 0, byte);
    else if (kind === 'delete') b.splice(i, 1);
    else if (kind === 'truncate') b = b.slice(0, i);
  }
  return Uint8Array.from(b);
}

// ---------------------------------------------------------------------------------------------
// Protobuf

describe('protobuf: hostile bytes never escape as anything but MesosMessageError', () => {
  it.each(ROOTS)(
    '%s: random bytes',
    (root) => {
      const c = codec(root);
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
          checkDecode(c, b);
        }),
        { numRuns: scaledRuns(1500) },
      );
    },
    scaledTimeout(1500, 1),
  );

  it.each(ROOTS)(
    '%s: protobuf-shaped noise',
    (root) => {
      const c = codec(root);
      // Half the time after a valid minimal message, so required fields are there to be kept.
      const minimal = [...c.toProtobuf(requiredOnlyMessage(root))];
      let ok = 0;
      fc.assert(
        fc.property(protobufNoise(3), fc.boolean(), (b, prefix) => {
          if (checkDecode(c, Uint8Array.from(prefix ? [...minimal, ...b] : b)) === 'ok') ok++;
        }),
        { numRuns: scaledRuns(1500) },
      );
      expect(ok).toBeGreaterThan(0); // the noise does reach the decoders' success paths
    },
    scaledTimeout(1500, 1),
  );

  it.each(ROOTS)(
    '%s: mutations and truncations of valid encodings',
    (root) => {
      const c = codec(root);
      const arb = fc.tuple(
        messageArbitrary(root, { depth: 2, large: false }),
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
      );
      fc.assert(
        fc.property(arb, ([m, mutations]) => {
          checkDecode(c, mutate(c.toProtobuf(m), mutations));
        }),
        { numRuns: scaledRuns(400) },
      );
    },
    scaledTimeout(400),
  );

  it.each(ROOTS)('%s: every truncation of every fully set type', (root) => {
    const c = codec(root);
    let prefixes = 0;
    for (const t of typeValues(root)) {
      const bytes = c.toProtobuf(rootMessageOfType(root, t));
      for (let i = 0; i < bytes.length; i++) {
        checkDecode(c, bytes.subarray(0, i));
        prefixes++;
      }
      expect(checkDecode(c, bytes)).toBe('ok');
    }
    expect(prefixes).toBeGreaterThan(100);
  });

  it('a truncated length-delimited field is an error, not a shorter message', () => {
    const bytes = call.toProtobuf({ type: 'TEARDOWN', framework_id: { value: 'framework-1' } });
    // [0x0a len "framework-1"...]: every cut inside framework_id fails.
    for (let i = 1; i < 2 + 2 + 'framework-1'.length; i++) {
      expectError(() => call.fromProtobuf(bytes.subarray(0, i)), 'MESOS_PROTOBUF_INVALID');
    }
  });

  it('a length prefix of 2^32-1 in a 10-byte buffer', () => {
    for (const root of ROOTS) {
      const bytes = Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0]);
      expect(bytes.length).toBe(10);
      expectError(() => codec(root).fromProtobuf(bytes), 'MESOS_PROTOBUF_INVALID', /length|truncated/);
    }
    // Also as a string's, a map entry's, a packed field's and an unknown field's length.
    const big = [0xff, 0xff, 0xff, 0xff, 0x0f];
    expectError(
      () => codec('mesos.v1.TaskID').fromProtobuf(Uint8Array.from([0x0a, ...big, 1, 2, 3])),
      'MESOS_PROTOBUF_INVALID',
    );
    expectError(
      () =>
        codec('mesos.v1.HealthCheck.HTTPCheckInfo').fromProtobuf(Uint8Array.from([0x08, 1, 0x22, ...big])),
      'MESOS_PROTOBUF_INVALID',
    );
    expectError(
      () => codec('mesos.v1.TaskID').fromProtobuf(Uint8Array.from([...tag(99, 2), ...big, 0])),
      'MESOS_PROTOBUF_INVALID',
    );
    expectError(
      () => codec('mesos.v1.FrameworkInfo').fromProtobuf(Uint8Array.from([...tag(13, 2), ...big])),
      'MESOS_PROTOBUF_INVALID',
    );
  });

  it('a varint longer than 10 bytes', () => {
    const eleven = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    // As a tag, an enum (32-bit path), an int64 (64-bit path), a length, an unknown field's value.
    expectError(() => call.fromProtobuf(Uint8Array.from(eleven)), 'MESOS_PROTOBUF_INVALID', /varint/);
    expectError(
      () => call.fromProtobuf(Uint8Array.from([0x10, ...eleven])),
      'MESOS_PROTOBUF_INVALID',
      /varint/,
    );
    expectError(
      () => codec('mesos.v1.TimeInfo').fromProtobuf(Uint8Array.from([0x08, ...eleven])),
      'MESOS_PROTOBUF_INVALID',
      /varint/,
    );
    expectError(
      () => call.fromProtobuf(Uint8Array.from([0x0a, ...eleven])),
      'MESOS_PROTOBUF_INVALID',
      /varint/,
    );
    expectError(
      () => call.fromProtobuf(Uint8Array.from([...tag(99, 0), ...eleven])),
      'MESOS_PROTOBUF_INVALID',
      /varint/,
    );
    // A 10-byte varint is fine (-1 as an int64).
    expect(codec('mesos.v1.TimeInfo').fromProtobuf(Uint8Array.from([0x08, ...varint(-1n)]))).toEqual({
      nanoseconds: -1,
    });
  });

  it('field number 0', () => {
    for (const wt of [0, 1, 2, 5]) {
      expectError(
        () => call.fromProtobuf(Uint8Array.from([wt, 0, 0, 0, 0, 0, 0, 0, 0])),
        'MESOS_PROTOBUF_INVALID',
        /field number 0/,
      );
    }
  });

  it('wire types 6 and 7, and stray or mismatched group ends', () => {
    for (const t of [tag(1, 6), tag(1, 7), tag(2, 6), tag(99, 6), tag(99, 7)]) {
      expectError(
        () => call.fromProtobuf(Uint8Array.from([...t, 0, 0])),
        'MESOS_PROTOBUF_INVALID',
        /wire type/,
      );
    }
    expectError(() => call.fromProtobuf(Uint8Array.from(tag(99, 4))), 'MESOS_PROTOBUF_INVALID');
    expectError(() => call.fromProtobuf(Uint8Array.from(tag(99, 3))), 'MESOS_PROTOBUF_INVALID', /group/);
    expectError(
      () => call.fromProtobuf(Uint8Array.from([...tag(99, 3), ...tag(98, 4)])),
      'MESOS_PROTOBUF_INVALID',
      /group/,
    );
    // A group that runs past the end of its enclosing message.
    expectError(
      () => call.fromProtobuf(Uint8Array.from([...ld(1, [...tag(99, 3)]), ...tag(99, 4)])),
      'MESOS_PROTOBUF_INVALID',
    );
  });

  it('ContainerID.parent nested 100,000 deep is a typed error, not a stack overflow', () => {
    const cid = codec('mesos.v1.ContainerID');
    const deep = deepContainerId(100_000);
    const err = expectError(() => cid.fromProtobuf(deep), 'MESOS_PROTOBUF_INVALID');
    expect(err).not.toBeInstanceOf(RangeError);
    // … while a merely deep chain decodes.
    let m = cid.fromProtobuf(deepContainerId(500));
    let depth = 0;
    while (m.parent) {
      m = m.parent as Message;
      depth++;
    }
    expect(depth).toBe(500);
    // The same chain inside a root message: executor.Event.subscribed.container_id (2 → 4).
    const event = codec('mesos.v1.executor.Event');
    const chain = [...deepContainerId(100_000)];
    const bytes = Uint8Array.from(ld(2, ld(4, chain)));
    expectError(() => event.fromProtobuf(bytes), 'MESOS_PROTOBUF_INVALID');
  });

  it('groups nested 100,000 deep are a typed error', () => {
    const open = tag(99, 3);
    const close = tag(99, 4);
    const bytes = new Uint8Array(100_000 * (open.length + close.length));
    for (let i = 0; i < 100_000; i++) bytes.set(open, i * open.length);
    for (let i = 0; i < 100_000; i++) bytes.set(close, 100_000 * open.length + i * close.length);
    expectError(() => call.fromProtobuf(bytes), 'MESOS_PROTOBUF_INVALID');
  });

  it('missing required fields are MESOS_MISSING_REQUIRED, naming the field', () => {
    expectError(
      () => codec('mesos.v1.TaskID').fromProtobuf(new Uint8Array(0)),
      'MESOS_MISSING_REQUIRED',
      /value/,
    );
    // subscribe.framework_info without user (field 1): only name (field 2).
    const bytes = Uint8Array.from([...tag(2, 0), 1, ...ld(3, ld(1, ld(2, utf8('n'))))]);
    expectError(() => call.fromProtobuf(bytes), 'MESOS_MISSING_REQUIRED', /FrameworkInfo\.user/);
  });

  it('invalid UTF-8 in strings decodes (as U+FFFD) without throwing', () => {
    for (const bad of [[0xff], [0xc3], [0xed, 0xa0, 0x80], Array(20).fill(0x80)]) {
      const m = codec('mesos.v1.TaskID').fromProtobuf(Uint8Array.from(ld(1, bad)));
      expect(m.value).toMatch(/\uFFFD/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// JSON

describe('JSON: syntax errors', () => {
  it.each([
    '',
    ' ',
    '{',
    '{"type":}',
    "{'type':'SUBSCRIBE'}",
    '{"type":"SUBSCRIBE",}',
    'nul',
    '{"type":"SUBSCRIBE"} x',
    '\u0000',
  ])('%j', (text) => {
    expectError(() => call.fromJSON(text), 'MESOS_JSON_SYNTAX', /^Failed to parse body into JSON/);
  });

  it('invalid UTF-8 bytes', () => {
    expectError(
      () => call.fromJSON(Uint8Array.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])),
      'MESOS_JSON_SYNTAX',
      /Failed to parse body into JSON/,
    );
    expectError(() => call.decode(Uint8Array.from([0xc3]), 'json'), 'MESOS_JSON_SYNTAX');
  });

  it.each(['[]', '1', 'null', '"SUBSCRIBE"', 'true'])('a top-level %s is not a message', (text) => {
    expectError(() => call.fromJSON(text), 'MESOS_JSON_INVALID', /Expecting a JSON object/);
  });

  it('every truncation of a valid JSON body fails cleanly', () => {
    for (const root of ROOTS) {
      const c = codec(root);
      for (const t of typeValues(root)) {
        const json = c.toJSON(rootMessageOfType(root, t));
        for (let i = 0; i < json.length; i += 3) typed(JSON_CODES, () => c.fromJSON(json.slice(0, i)));
      }
    }
  });
});

describe("JSON: Mesos' parsing rules (§1.10)", () => {
  const fw = codec('mesos.v1.FrameworkInfo');
  const subscribe = (frameworkInfo: unknown): unknown => ({
    type: 'SUBSCRIBE',
    subscribe: { framework_info: frameworkInfo },
  });

  it('camelCase keys are unknown keys, ignored (→ missing required fields)', () => {
    expectError(
      () => call.fromJSONValue({ type: 'SUBSCRIBE', subscribe: { frameworkInfo: { user: 'u', name: 'n' } } }),
      'MESOS_MISSING_REQUIRED',
      'Missing required fields: subscribe.framework_info',
    );
    expectSame(call.fromJSONValue({ type: 'TEARDOWN', frameworkId: { value: 'x' } }), { type: 'TEARDOWN' });
    // (Parsing adds no defaults: only printing does.)
    expectSame(fw.fromJSONValue({ user: 'u', name: 'n', failoverTimeout: 5, unknown: { deep: [1] } }), {
      user: 'u',
      name: 'n',
    });
  });

  it('an ID given as a bare string', () => {
    expectError(
      () => call.fromJSON('{"type":"TEARDOWN","framework_id":"abc"}'),
      'MESOS_JSON_INVALID',
      "Not expecting a JSON string for field 'framework_id'",
    );
  });

  it('an enum given as a number', () => {
    expectError(
      () => call.fromJSON('{"type":1}'),
      'MESOS_JSON_INVALID',
      "Not expecting a JSON number for field 'type'",
    );
  });

  it('an unknown enum name: dropped on an optional field, an error on a required one', () => {
    expectSame(call.fromJSON('{"type":"NOT_A_TYPE"}'), {});
    expectSame(codec('mesos.v1.CapabilityInfo').fromJSON('{"capabilities":["CHOWN","NOPE","KILL"]}'), {
      capabilities: ['CHOWN', 'KILL'],
    });
    expectSame(codec('mesos.v1.CapabilityInfo').fromJSON('{"capabilities":["NOPE"]}'), {});
    expectError(
      () => codec('mesos.v1.TaskStatus').fromJSON('{"task_id":{"value":"t"},"state":"TASK_NOPE"}'),
      'MESOS_JSON_INVALID',
      "Failed to find enum for 'TASK_NOPE'",
    );
  });

  it('bytes: standard base64, padding optional, whitespace ignored, URL-safe alphabet rejected', () => {
    const ack = codec('mesos.v1.scheduler.Call.Acknowledge');
    const body = (uuid: unknown): unknown => ({ agent_id: { value: 'a' }, task_id: { value: 't' }, uuid });
    const uuidOf = (uuid: string): Uint8Array => ack.fromJSONValue(body(uuid)).uuid as Uint8Array;
    expect(uuidOf('AQID')).toEqual(Uint8Array.of(1, 2, 3));
    expect(uuidOf('AQI=')).toEqual(Uint8Array.of(1, 2));
    expect(uuidOf('AQI')).toEqual(Uint8Array.of(1, 2));
    expect(uuidOf('AQ==')).toEqual(Uint8Array.of(1));
    expect(uuidOf('AQ')).toEqual(Uint8Array.of(1));
    expect(uuidOf('')).toEqual(new Uint8Array(0));
    expect(uuidOf(' A Q\nI\t= ')).toEqual(Uint8Array.of(1, 2));
    expect(uuidOf('+/8=')).toEqual(Uint8Array.of(0xfb, 0xff));
    for (const bad of ['-_8=', '-_8', 'AQ-D', 'AQ_D', 'A', 'AQ=D', 'AQ===', '!!!!', 'é']) {
      expectError(
        () => ack.fromJSONValue(body(bad)),
        'MESOS_JSON_INVALID',
        "Failed to base64-decode the value of field 'uuid'",
      );
    }
    expectError(
      () => ack.fromJSONValue(body(123)),
      'MESOS_JSON_INVALID',
      "Not expecting a JSON number for field 'uuid'",
    );
  });

  it('integers: JSON numbers or numeric strings, range-checked', () => {
    const http = codec('mesos.v1.HealthCheck.HTTPCheckInfo'); // port: uint32, statuses: repeated uint32
    expectSame(http.fromJSON('{"port":"8080","statuses":["200",201,"2.02e2"]}'), {
      port: 8080,
      statuses: [200, 201, 202],
    });
    expectSame(http.fromJSON('{"port":80.0}'), { port: 80 });
    for (const bad of ['"80x"', '"0x50"', '""', '"1.5"', '1.5', '-1', '4294967296', 'true', '[]', '{}']) {
      expectError(() => http.fromJSON(`{"port":${bad}}`), 'MESOS_JSON_INVALID', /field 'port'/);
    }
    const agent = codec('mesos.v1.AgentInfo'); // port: int32
    expectSame(agent.fromJSON('{"hostname":"h","port":"-5"}'), { hostname: 'h', port: -5 });
    expectError(
      () => agent.fromJSON('{"hostname":"h","port":2147483648}'),
      'MESOS_JSON_INVALID',
      /out of range/,
    );
  });

  it('64-bit integers above 2^53 given as strings are exact (bigint)', () => {
    const time = codec('mesos.v1.TimeInfo'); // int64
    expectSame(time.fromJSON('{"nanoseconds":"1700000000123456789"}'), {
      nanoseconds: 1_700_000_000_123_456_789n,
    });
    expectSame(time.fromJSON('{"nanoseconds":"-9223372036854775808"}'), { nanoseconds: -(2n ** 63n) });
    expectSame(time.fromJSON('{"nanoseconds":"9007199254740991"}'), { nanoseconds: Number.MAX_SAFE_INTEGER });
    expectSame(time.fromJSON('{"nanoseconds":"-42"}'), { nanoseconds: -42 });
    expectError(
      () => time.fromJSON('{"nanoseconds":"9223372036854775808"}'),
      'MESOS_JSON_INVALID',
      /out of range/,
    );
    const range = codec('mesos.v1.Value.Range'); // uint64 begin, end
    expectSame(range.fromJSON('{"begin":"0","end":"18446744073709551615"}'), {
      begin: 0,
      end: 2n ** 64n - 1n,
    });
    expectError(() => range.fromJSON('{"begin":"-1","end":"1"}'), 'MESOS_JSON_INVALID', /out of range/);
    expectError(
      () => range.fromJSON('{"begin":0,"end":"18446744073709551616"}'),
      'MESOS_JSON_INVALID',
      /range/,
    );
  });

  // BUG (json.ts): Mesos prints 64-bit integers as bare JSON numbers (§1.10), and `JSON.parse`
  // turns 1700000000123456789 into an unsafe double that `readInteger` then rejects as out of
  // range: an OFFERS event with an `unavailability` cannot be decoded. Turn into `it` when fixed.
  it('64-bit integers above 2^53 given as bare JSON numbers (as Mesos prints them)', () => {
    const time = codec('mesos.v1.TimeInfo');
    expectSame(time.fromJSON('{"nanoseconds":1700000000123456789}'), {
      nanoseconds: 1_700_000_000_123_456_789n,
    });
  });

  it('doubles: numbers, numeric strings, "Infinity" / "-Infinity"', () => {
    const filters = codec('mesos.v1.Filters');
    const seconds = (v: string): unknown => filters.fromJSON(`{"refuse_seconds":${v}}`).refuse_seconds;
    expect(seconds('1.5')).toBe(1.5);
    expect(seconds('"1.5"')).toBe(1.5);
    expect(seconds('"-2e3"')).toBe(-2000);
    expect(seconds('"Infinity"')).toBe(Number.POSITIVE_INFINITY);
    expect(seconds('"-Infinity"')).toBe(Number.NEGATIVE_INFINITY);
    expect(seconds('1e999')).toBe(Number.POSITIVE_INFINITY);
    expect(Object.is(seconds('-0.0'), -0)).toBe(true);
    for (const bad of ['"NaN"', '"infinity"', '"1.5s"', '""', '"0x10"', 'true', '[1]', '{}']) {
      expectError(() => seconds(bad), 'MESOS_JSON_INVALID', /field 'refuse_seconds'/);
    }
  });

  it('bools: true/false or the strings "true"/"false"', () => {
    const info = (v: string): unknown => fw.fromJSON(`{"user":"u","name":"n","checkpoint":${v}}`).checkpoint;
    expect(info('true')).toBe(true);
    expect(info('"true"')).toBe(true);
    expect(info('"false"')).toBe(false);
    for (const bad of ['1', '0', '"yes"', '"TRUE"', 'null']) {
      if (bad === 'null')
        expect(info(bad)).toBeUndefined(); // null = unset
      else expectError(() => info(bad), 'MESOS_JSON_INVALID', /field 'checkpoint'/);
    }
  });

  it('null means unset, also for required fields (→ missing)', () => {
    expectSame(call.fromJSON('{"type":null,"framework_id":null,"subscribe":null}'), {});
    expectError(
      () => call.fromJSONValue(subscribe({ user: null, name: 'n' })),
      'MESOS_MISSING_REQUIRED',
      'Missing required fields: subscribe.framework_info.user',
    );
  });

  it('a single value stands for a one-element repeated field; an array for a non-repeated field is an error', () => {
    expectSame(call.fromJSON('{"type":"REVIVE","revive":{"roles":"web"}}'), {
      type: 'REVIVE',
      revive: { roles: ['web'] },
    });
    expectSame(call.fromJSON('{"type":"REVIVE","revive":{"roles":[]}}'), { type: 'REVIVE', revive: {} });
    expectSame(call.fromJSON('{"type":"DECLINE","decline":{"offer_ids":{"value":"o1"}}}'), {
      type: 'DECLINE',
      decline: { offer_ids: [{ value: 'o1' }] },
    });
    expectError(
      () => call.fromJSON('{"type":["SUBSCRIBE"]}'),
      'MESOS_JSON_INVALID',
      "Not expecting a JSON array for field 'type'",
    );
    expectError(
      () => call.fromJSON('{"framework_id":[{"value":"x"}]}'),
      'MESOS_JSON_INVALID',
      "Not expecting a JSON array for field 'framework_id'",
    );
  });

  it('maps: an object of key → value; values follow their own rules', () => {
    const task = codec('mesos.v1.TaskInfo');
    const base = '"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"}';
    expectSame(task.fromJSON(`{${base},"limits":{"cpus":{"value":1.5},"mem":{"value":"Infinity"}}}`), {
      name: 't',
      task_id: { value: 't' },
      agent_id: { value: 'a' },
      limits: { cpus: { value: 1.5 }, mem: { value: Number.POSITIVE_INFINITY } },
    });
    expectSame(task.fromJSON(`{${base},"limits":{}}`), {
      name: 't',
      task_id: { value: 't' },
      agent_id: { value: 'a' },
    });
    expectError(() => task.fromJSON(`{${base},"limits":[]}`), 'MESOS_JSON_INVALID', /JSON array/);
    expectError(() => task.fromJSON(`{${base},"limits":"cpus"}`), 'MESOS_JSON_INVALID', /JSON string/);
    expectError(
      () => task.fromJSON(`{${base},"limits":{"cpus":{}}}`),
      'MESOS_MISSING_REQUIRED',
      'Missing required fields: limits.cpus.value',
    );
    // The docs' shorthand is rejected, in Mesos' words (the map entry's field is `value`).
    expectError(
      () => task.fromJSON(`{${base},"limits":{"cpus":"Infinity","mem":512.0}}`),
      'MESOS_JSON_INVALID',
      "Not expecting a JSON string for field 'value'",
    );
  });

  it('Missing required fields: the exact dotted path', () => {
    expectError(
      () => call.fromJSON('{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"n"}}}'),
      'MESOS_MISSING_REQUIRED',
      /Missing required fields: subscribe\.framework_info\.user$/,
    );
    expectError(
      () => call.fromJSON('{"type":"SUBSCRIBE","subscribe":{"framework_info":{}}}'),
      'MESOS_MISSING_REQUIRED',
      /Missing required fields: subscribe\.framework_info\.user, subscribe\.framework_info\.name$/,
    );
    expectError(
      () =>
        call.fromJSON(
          '{"type":"ACCEPT","accept":{"offer_ids":[{"value":"o"},{}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t"}]}}]}}',
        ),
      'MESOS_MISSING_REQUIRED',
      /accept\.offer_ids\.value.*accept\.operations\.launch\.task_infos\.task_id/,
    );
  });
});

describe('JSON: hostile structure', () => {
  const protoNames = (): string[] => Object.getOwnPropertyNames(Object.prototype).sort();

  it('__proto__ keys never change a prototype', () => {
    const before = protoNames();
    // In the input object: an unknown key, ignored.
    const m = call.fromJSON(
      '{"__proto__":{"type":"SUBSCRIBE","polluted":1},"constructor":{"x":1},"type":"TEARDOWN"}',
    );
    expectSame(m, { type: 'TEARDOWN' });
    expect(Object.getPrototypeOf(m)).toBe(Object.prototype);
    // As a map key: an own key of the map, whose prototype stays Object.prototype.
    const fw = codec('mesos.v1.FrameworkInfo').fromJSON(
      '{"user":"u","name":"n","offer_filters":{"__proto__":{"min_allocatable_resources":{}},"toString":{}}}',
    );
    const filters = fw.offer_filters as Record<string, unknown>;
    expect(Object.keys(filters)).toEqual(['__proto__', 'toString']);
    expect(Object.getPrototypeOf(filters)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(filters, '__proto__')?.value).toEqual({
      min_allocatable_resources: {},
    });
    // … and it survives both encodings.
    const c = codec('mesos.v1.FrameworkInfo');
    expectSame(c.fromProtobuf(c.toProtobuf(fw)), fw);
    expectSame(c.fromJSON(c.toJSON(fw)), withJsonDefaults('mesos.v1.FrameworkInfo', fw));
    // Through fromJSONValue with an object whose prototype carries fields: inherited keys are not read.
    expectSame(call.fromJSONValue(Object.create({ type: 'SUBSCRIBE' }) as object), {});
    const withOwnProto = JSON.parse('{"__proto__":{"user":"u","name":"n"}}') as object;
    expectError(() => codec('mesos.v1.FrameworkInfo').fromJSONValue(withOwnProto), 'MESOS_MISSING_REQUIRED');
    // A volume_context map<string,string> with hostile keys.
    const sp = codec('mesos.v1.Volume.Source.CSIVolume.StaticProvisioning');
    const spJson =
      '{"volume_id":"v","volume_capability":{"access_mode":{"mode":"SINGLE_NODE_WRITER"}},"volume_context":{"__proto__":"x","constructor":"y","hasOwnProperty":"z"}}';
    const ctx = sp.fromJSON(spJson).volume_context as Record<string, unknown>;
    expect(Object.getPrototypeOf(ctx)).toBe(Object.prototype);
    expect(Object.entries(ctx)).toEqual([
      ['__proto__', 'x'],
      ['constructor', 'y'],
      ['hasOwnProperty', 'z'],
    ]);
    expect(protoNames()).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a 10,000-deep JSON object is ignored or a typed error, never a crash', () => {
    const deepUnknown = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    expectSame(call.fromJSON(deepUnknown), {});
    const deepArray = `{"type":"REVIVE","revive":{"roles":${'['.repeat(10_000)}"r"${']'.repeat(10_000)}}}`;
    typed(JSON_CODES, () => call.fromJSON(deepArray));
    for (const depth of [10_000, 100_000]) {
      const deepParent = `${'{"value":"c","parent":'.repeat(depth)}{"value":"c"}${'}'.repeat(depth)}`;
      const r = typed(JSON_CODES, () => codec('mesos.v1.ContainerID').fromJSON(deepParent));
      if (!(r instanceof MesosMessageError)) expect(r.value).toBe('c');
    }
    const deepInCall = `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","id":${'{"value":"x","parent":'.repeat(100_000)}1${'}'.repeat(100_000)}}}}`;
    typed(JSON_CODES, () => call.fromJSON(deepInCall));
  });

  it('random JSON values never escape as anything but MesosMessageError', () => {
    for (const root of ROOTS) {
      const c = codec(root);
      fc.assert(
        fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
          typed(JSON_CODES, () => c.fromJSONValue(v));
          typed(JSON_CODES, () => c.fromJSON(JSON.stringify(v)));
        }),
        { numRuns: scaledRuns(150) },
      );
    }
  });

  // Schema-aware JSON noise: objects keyed by real field names, values of every JSON kind
  // (including numeric strings, "Infinity", enum names, base64), so parsing goes deep.
  const fieldNames = [
    ...new Set(allMessageTypeNames().flatMap((n) => messageModel(n).fields.map((f) => f.name))),
  ];
  const enumNames = ['SUBSCRIBE', 'TASK_RUNNING', 'SCALAR', 'RANGES', 'LAUNCH', 'VALUE', 'IPv4', 'UNKNOWN'];
  const leaf: fc.Arbitrary<unknown> = fc.oneof(
    fc.constantFrom(
      null,
      true,
      false,
      0,
      -1,
      1.5,
      2 ** 53 + 2,
      1e300,
      'true',
      'Infinity',
      '-Infinity',
      '42',
      '-7',
      '1e3',
    ),
    fc.constantFrom(
      '18446744073709551615',
      '9223372036854775807',
      '-9223372036854775809',
      'AQID',
      'AQ',
      '-_',
    ),
    fc.constantFrom(...enumNames),
    fc.string({ maxLength: 6 }),
    fc.integer(),
    fc.double(),
  );
  const jsonNoise = (depth: number): fc.Arbitrary<Record<string, unknown>> => {
    const value =
      depth > 0
        ? fc.oneof(
            leaf,
            jsonNoise(depth - 1),
            fc.array(fc.oneof(leaf, jsonNoise(depth - 1)), { maxLength: 3 }),
          )
        : leaf;
    return fc
      .uniqueArray(fc.tuple(fc.constantFrom(...fieldNames, '__proto__'), value), {
        maxLength: 5,
        selector: ([k]) => k,
      })
      .map((entries) => {
        const o: Record<string, unknown> = {};
        for (const [k, v] of entries) setOwn(o, k, v);
        return o;
      });
  };

  it.each(ROOTS)(
    '%s: schema-aware JSON noise parses to valid messages or typed errors',
    (root) => {
      const c = codec(root);
      // Half the time over a valid minimal message, so required fields are there to be kept.
      const minimal = JSON.parse(c.toJSON(requiredOnlyMessage(root))) as Record<string, unknown>;
      let ok = 0;
      fc.assert(
        fc.property(jsonNoise(4), fc.boolean(), (noise, over) => {
          const v: Record<string, unknown> = over ? { ...minimal } : {};
          for (const [k, x] of Object.entries(noise)) setOwn(v, k, x);
          const m = typed(JSON_CODES, () => c.fromJSONValue(v));
          if (m instanceof MesosMessageError) return;
          ok++;
          // What parses is a valid message: it encodes both ways and round-trips through protobuf.
          expectSame(c.fromProtobuf(c.toProtobuf(m)), m);
          typed(['MESOS_ENCODE_INVALID'], () => c.toJSON(m));
          // Through JSON text too (not compared: `JSON.stringify` loses -0 and NaN).
          typed(JSON_CODES, () => c.fromJSON(JSON.stringify(v)));
        }),
        { numRuns: scaledRuns(500) },
      );
      expect(ok).toBeGreaterThan(0);
    },
    scaledTimeout(500),
  );
});

// ---------------------------------------------------------------------------------------------
// Encoding

describe('encoding invalid messages', () => {
  const both = (c: MessageCodec<Message>, m: unknown): MesosMessageError[] => {
    const errors: MesosMessageError[] = [];
    for (const encoding of ['protobuf', 'json'] as const) {
      const r = typed(ENCODE_CODES, () => c.encode(m as Message, encoding));
      if (!(r instanceof MesosMessageError)) throw new Error(`${encoding} encoding accepted ${String(m)}`);
      errors.push(r);
    }
    return errors;
  };
  const subscribeWith = (frameworkInfo: Record<string, unknown>): Message => ({
    type: 'SUBSCRIBE',
    subscribe: { framework_info: { user: 'u', name: 'n', ...frameworkInfo } },
  });

  it('a string for a number field', () => {
    const [pb, json] = both(codec('mesos.v1.HealthCheck.HTTPCheckInfo'), { port: '80' });
    expect(pb!.code).toBe('MESOS_ENCODE_INVALID');
    expect(pb!.message).toContain('HTTPCheckInfo: port:');
    expect(json!.code).toBe('MESOS_ENCODE_INVALID');
    expect(json!.message).toContain('port');
    const [pb2, json2] = both(call, subscribeWith({ failover_timeout: '5' }));
    expect(pb2!.message).toContain('subscribe.framework_info.failover_timeout');
    expect(json2!.message).toContain('subscribe.framework_info.failover_timeout');
  });

  it('a number for an enum field', () => {
    const [pb, json] = both(call, { type: 1 });
    expect(pb!.code).toBe('MESOS_ENCODE_INVALID');
    expect(pb!.message).toContain('Call: type:');
    expect(json!.code).toBe('MESOS_ENCODE_INVALID');
    expect(json!.message).toContain('type');
    both(call, { type: 'NOT_A_TYPE' });
  });

  it('an object for a string field, a string for a message field, a scalar for a repeated field', () => {
    const [pb, json] = both(codec('mesos.v1.TaskID'), { value: {} });
    expect(pb!.message).toContain('TaskID: value:');
    expect(json!.message).toContain('value');
    both(call, { type: 'TEARDOWN', framework_id: 'abc' });
    both(call, { type: 'REVIVE', revive: { roles: 'web' } });
    both(call, {
      type: 'ACKNOWLEDGE',
      acknowledge: { agent_id: { value: 'a' }, task_id: { value: 't' }, uuid: 'AQID' },
    });
    both(call, {
      type: 'ACKNOWLEDGE',
      acknowledge: { agent_id: { value: 'a' }, task_id: { value: 't' }, uuid: [1, 2] },
    });
    both(codec('mesos.v1.FrameworkInfo'), { user: 'u', name: 'n', checkpoint: 'true' });
    both(codec('mesos.v1.FrameworkInfo'), { user: 'u', name: 'n', offer_filters: [] });
    both(codec('mesos.v1.FrameworkInfo'), { user: 'u', name: 'n', offer_filters: { r: 5 } });
    both(codec('mesos.v1.TimeInfo'), { nanoseconds: 1.5 });
    both(codec('mesos.v1.TimeInfo'), { nanoseconds: '5' });
    for (const notAnObject of [null, undefined, 'x', 5, [], new Uint8Array(1)]) both(call, notAnObject);
  });

  it('missing required fields, naming the field', () => {
    const [pb, json] = both(call, { type: 'SUBSCRIBE', subscribe: { framework_info: { name: 'n' } } });
    expect(pb!.code).toBe('MESOS_MISSING_REQUIRED');
    expect(pb!.message).toContain('subscribe.framework_info.user');
    expect(json!.code).toBe('MESOS_MISSING_REQUIRED');
    expect(json!.message).toContain('subscribe.framework_info.user');
    const [pb2, json2] = both(codec('mesos.v1.executor.Call'), {
      framework_id: { value: 'f' },
      type: 'HEARTBEAT',
    });
    expect(pb2!.message).toContain('executor_id');
    expect(json2!.message).toContain('executor_id');
  });

  it('protobuf encode errors give the dotted path from the root, as JSON ones do', () => {
    const [pb] = both(call, { type: 'SUBSCRIBE', subscribe: { framework_info: { name: 'n' } } });
    expect(pb!.message).toContain('subscribe.framework_info.user');
  });

  it('integers out of their field’s range, in both encodings', () => {
    both(codec('mesos.v1.HealthCheck.HTTPCheckInfo'), { port: -1 });
    both(codec('mesos.v1.HealthCheck.HTTPCheckInfo'), { port: 2 ** 32 });
    both(codec('mesos.v1.HealthCheck.HTTPCheckInfo'), { port: 1, statuses: [200, -200] });
    both(codec('mesos.v1.AgentInfo'), { hostname: 'h', port: 2 ** 31 }); // int32
    both(codec('mesos.v1.Value.Range'), { begin: -1n, end: 1 }); // uint64
    both(codec('mesos.v1.Value.Range'), { begin: 0, end: 2n ** 64n });
    both(codec('mesos.v1.TimeInfo'), { nanoseconds: 2n ** 63n }); // int64
    both(codec('mesos.v1.TimeInfo'), { nanoseconds: -(2n ** 63n) - 1n });
  });

  // The JSON encoder prints an integral but unsafe `number` (e.g. `Date.now() * 1e6`) in a
  // 64-bit field; the protobuf encoder refuses it ("expected an integer"). The types promise
  // that `number | bigint` is accepted. Turn into `it` once both agree.
  it('an integral unsafe number in an int64 field is encoded exactly by both encodings', () => {
    const time = codec('mesos.v1.TimeInfo');
    const m = { nanoseconds: 1.7e18 };
    expect(time.toJSON(m)).toBe('{"nanoseconds":1700000000000000000}');
    expect(time.fromProtobuf(time.toProtobuf(m))).toEqual({ nanoseconds: 1_700_000_000_000_000_000n });
  });

  it('NaN cannot be written as JSON (protobuf carries it)', () => {
    const filters = codec('mesos.v1.Filters');
    const err = expectError(
      () => filters.toJSON({ refuse_seconds: Number.NaN }),
      'MESOS_ENCODE_INVALID',
      /NaN/,
    );
    expect(err.message).toContain('refuse_seconds');
    expectError(
      () => call.encode(subscribeWith({ failover_timeout: Number.NaN }), 'json'),
      'MESOS_ENCODE_INVALID',
      /NaN/,
    );
    expect(filters.toProtobuf({ refuse_seconds: Number.NaN }).length).toBe(9);
  });

  it('cyclic and absurdly deep messages are typed errors in both encodings', () => {
    const cid = codec('mesos.v1.ContainerID');
    const cyclic: Message = { value: 'x' };
    cyclic.parent = cyclic;
    both(cid, cyclic);
    let deep: Message = { value: 'c' };
    for (let i = 0; i < 100_000; i++) deep = { value: 'c', parent: deep };
    both(cid, deep);
  });

  it.each(ROOTS)(
    '%s: a wrong value anywhere is a typed error or (when harmless) accepted',
    (root) => {
      const c = codec(root);
      const wrong = fc.oneof(
        fc.anything({ maxDepth: 1 }),
        fc.constantFrom(
          Number.NaN,
          1.5,
          -1,
          2 ** 53,
          2n ** 70n,
          -1n,
          Symbol('s'),
          () => 1,
          new Uint8Array(2),
          [null],
        ),
      );
      const arb = fc.tuple(messageArbitrary(root, { depth: 2, large: false }), fc.nat(), wrong);
      fc.assert(
        fc.property(arb, ([m, pick, value]) => {
          // Replace the pick-th value (in a depth-first walk) by `value`.
          let n = 0;
          const walk = (o: unknown): unknown => {
            if (typeof o !== 'object' || o === null || o instanceof Uint8Array)
              return n++ === pick % 40 ? value : o;
            if (Array.isArray(o)) return o.map(walk);
            const out: Record<string, unknown> = {};
            for (const [k, v] of Object.entries(o)) setOwn(out, k, walk(v));
            return out;
          };
          const broken = walk(m);
          for (const encoding of ['protobuf', 'json'] as const)
            typed(ENCODE_CODES, () => c.encode(broken as Message, encoding));
        }),
        { numRuns: scaledRuns(300) },
      );
    },
    scaledTimeout(300),
  );

  it('the default-filling helper matches what toJSON prints', () => {
    const m = { type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'u', name: 'n' } } };
    expectSame(
      schedulerCall.fromJSON(schedulerCall.toJSON(m as never)),
      withJsonDefaults('mesos.v1.scheduler.Call', m),
    );
    expect(schedulerCall.toJSON(m as never)).toBe(
      '{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","failover_timeout":0.0,"checkpoint":false}}}',
    );
  });
});
