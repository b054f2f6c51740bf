/**
 * Round trips of the Mesos v1 codecs: every `type` of the four root messages with its
 * sub-message fully set, property tests over random messages of every type, wire interop with
 * protobufjs itself, and hand-built protobuf that exercises the decoder's lenient paths.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import {
  codecFor,
  executorCall,
  executorEvent,
  type MessageCodec,
  schedulerCall,
  schedulerEvent,
} from '../src/mesos/codec.js';
import { protobufCodec } from '../src/mesos/protobuf.js';
import { allMessageTypeNames, modelOfType } from '../src/mesos/schema.js';
import {
  type Message,
  messageArbitrary,
  messageDiff,
  modelArbitrary,
  rootMessageOfType,
  scaledRuns,
  scaledTimeout,
  setOwn,
  subMessageField,
  tag,
  typeValues,
  varint,
  withJsonDefaults,
} from './arbitraries.js';

const PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'proto');

const ROOTS = [
  'mesos.v1.scheduler.Call',
  'mesos.v1.scheduler.Event',
  'mesos.v1.executor.Call',
  'mesos.v1.executor.Event',
] as const;

const NAMED_CODECS: Record<(typeof ROOTS)[number], MessageCodec<unknown>> = {
  'mesos.v1.scheduler.Call': schedulerCall,
  'mesos.v1.scheduler.Event': schedulerEvent,
  'mesos.v1.executor.Call': executorCall,
  'mesos.v1.executor.Event': executorEvent,
};

function expectSame(actual: unknown, expected: unknown, label?: string): void {
  expect(messageDiff(actual, expected), label).toBeUndefined();
}

/** Byte equality (fast; vitest's deep equality is slow on large arrays, and `Buffer` ≠ `Uint8Array` there). */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array, label?: string): void {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  expect(a.equals(expected), label ?? 'bytes differ').toBe(true);
}

const codec = (name: string): MessageCodec<Message> => codecFor<Message>(name);
const ALL_TYPES = allMessageTypeNames();

// ---------------------------------------------------------------------------------------------
// Wire-format helpers for hand-built protobuf

const utf8 = (s: string): number[] => [...new TextEncoder().encode(s)];
const ld = (field: number, body: number[]): number[] => [...tag(field, 2), ...varint(body.length), ...body];
const vi = (field: number, v: number | bigint): number[] => [...tag(field, 0), ...varint(v)];
const bytesOf = (...parts: number[][]): Uint8Array => Uint8Array.from(parts.flat());
function f64le(v: number): number[] {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, true);
  return [...b];
}

// ---------------------------------------------------------------------------------------------
// protobufjs, loaded from the .proto sources (not from our generated descriptor)

function loadProtobufjs(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
  root.loadSync(['mesos/v1/scheduler/scheduler.proto', 'mesos/v1/executor/executor.proto'], {
    keepCase: true,
  });
  root.resolveAll();
  return root;
}
const pbjs = loadProtobufjs();

/** Our message in the shape protobufjs' `fromObject` takes: 64-bit integers as decimal strings. */
function toProtobufjsObject(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(toProtobufjsObject);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toProtobufjsObject(x);
    return out;
  }
  return v;
}

/** Our bytes → protobufjs decode → protobufjs encode, and our message → protobufjs fromObject → encode. */
function protobufjsBytes(
  typeName: string,
  ours: Uint8Array,
  m: Message,
): { reencoded: Uint8Array; fromObject: Uint8Array } {
  const T = pbjs.lookupType(typeName);
  const decoded = T.decode(ours);
  return {
    reencoded: T.encode(decoded).finish(),
    fromObject: T.encode(T.fromObject(toProtobufjsObject(m) as Record<string, unknown>)).finish(),
  };
}

// ---------------------------------------------------------------------------------------------
// 1. Every `type` of the root messages, with its sub-message fully set

/** The `type` values that carry no sub-message (anything else must map onto one). */
const TYPES_WITHOUT_SUB_MESSAGE: Record<(typeof ROOTS)[number], string[]> = {
  'mesos.v1.scheduler.Call': ['UNKNOWN', 'TEARDOWN'],
  'mesos.v1.scheduler.Event': ['UNKNOWN', 'HEARTBEAT'],
  'mesos.v1.executor.Call': ['UNKNOWN', 'HEARTBEAT'],
  'mesos.v1.executor.Event': ['UNKNOWN', 'SHUTDOWN', 'HEARTBEAT'],
};

describe.each(ROOTS)('%s: every type round-trips', (root) => {
  const c = codec(root);

  it('maps every type value but a known few onto a sub-message field', () => {
    expect(typeValues(root).filter((t) => !subMessageField(root, t))).toEqual(
      TYPES_WITHOUT_SUB_MESSAGE[root],
    );
  });

  it.each(typeValues(root))('%s', (typeValue) => {
    const m = rootMessageOfType(root, typeValue);
    const sub = subMessageField(root, typeValue);
    if (sub?.value.kind === 'message') {
      // Every field of the sub-message is set.
      const fields = sub.value.message.fields.map((f) => f.name);
      expect(Object.keys(m[sub.name] as Message)).toEqual(fields);
    }

    // protobuf → message → protobuf: same bytes.
    const bytes = c.toProtobuf(m);
    const decoded = c.fromProtobuf(bytes);
    expectSame(decoded, m);
    expectSameBytes(c.toProtobuf(decoded), bytes);
    expectSame(c.decode(c.encode(m, 'protobuf'), 'protobuf'), m);

    // JSON: the message plus the defaults Mesos prints.
    const json = c.toJSON(m);
    const expected = withJsonDefaults(root, m);
    expectSame(c.fromJSON(json), expected);
    expectSame(c.fromJSON(new TextEncoder().encode(json)), expected);
    expectSame(c.decode(c.encode(m, 'json'), 'json'), expected);
    expect(c.toJSON(expected)).toBe(json);

    // protobuf and JSON agree.
    expect(c.toJSON(decoded)).toBe(json);
    expectSameBytes(c.toProtobuf(c.fromJSON(json)), c.toProtobuf(expected));

    // The named codec is the same codec.
    expectSameBytes(NAMED_CODECS[root].toProtobuf(m), bytes);
    expect(NAMED_CODECS[root].typeName).toBe(root);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Properties over random messages

function checkProtobufRoundTrip(c: MessageCodec<Message>, m: Message): void {
  const bytes = c.toProtobuf(m);
  expectSameBytes(c.toProtobuf(m), bytes); // deterministic
  const back = c.fromProtobuf(bytes);
  expectSame(back, m);
  expectSameBytes(c.toProtobuf(back), bytes);
}

function checkJsonRoundTrip(c: MessageCodec<Message>, m: Message): void {
  const json = c.toJSON(m);
  const expected = withJsonDefaults(c.typeName, m);
  expectSame(c.fromJSON(json), expected);
  expect(c.toJSON(expected)).toBe(json);
}

describe.each(ROOTS)('%s: properties', (root) => {
  const c = codec(root);

  it(
    'protobuf: decode(encode(m)) deep-equals m and the bytes are deterministic',
    () => {
      fc.assert(
        fc.property(messageArbitrary(root, { depth: 3 }), (m) => checkProtobufRoundTrip(c, m)),
        { numRuns: scaledRuns(200) },
      );
    },
    scaledTimeout(200),
  );

  it(
    'JSON: fromJSON(toJSON(m)) equals m plus the defaults Mesos prints',
    () => {
      // 64-bit integers above 2^53 are left out here: see the `BUG` test below.
      fc.assert(
        fc.property(messageArbitrary(root, { depth: 3, int64: 'safe' }), (m) => {
          checkJsonRoundTrip(c, m);
          // protobuf and JSON agree.
          expect(c.toJSON(c.fromProtobuf(c.toProtobuf(m)))).toBe(c.toJSON(m));
        }),
        { numRuns: scaledRuns(200) },
      );
    },
    scaledTimeout(200),
  );
});

describe('every message type: properties', () => {
  const sample = fc
    .constantFrom(...ALL_TYPES)
    .chain((name) => messageArbitrary(name, { depth: 2 }).map((m) => ({ name, m })));
  const safeSample = fc
    .constantFrom(...ALL_TYPES)
    .chain((name) => messageArbitrary(name, { depth: 2, int64: 'safe' }).map((m) => ({ name, m })));

  it('knows every message type of the .proto files', () => {
    const fromProto: string[] = [];
    const walk = (ns: protobuf.NamespaceBase): void => {
      for (const item of ns.nestedArray) {
        if (item instanceof protobuf.Type) fromProto.push(item.fullName.slice(1));
        if (item instanceof protobuf.Namespace || item instanceof protobuf.Type) walk(item);
      }
    };
    walk(pbjs);
    expect([...ALL_TYPES].sort()).toEqual(fromProto.sort());
    expect(ALL_TYPES.length).toBeGreaterThan(100);
  });

  it(
    'protobuf round trip',
    () => {
      fc.assert(
        fc.property(sample, ({ name, m }) => checkProtobufRoundTrip(codec(name), m)),
        { numRuns: scaledRuns(400) },
      );
    },
    scaledTimeout(400),
  );

  it(
    'JSON round trip (modulo defaults)',
    () => {
      fc.assert(
        fc.property(safeSample, ({ name, m }) => checkJsonRoundTrip(codec(name), m)),
        { numRuns: scaledRuns(400) },
      );
    },
    scaledTimeout(400),
  );

  it('messages larger than the kept writer encode intact, one after another', () => {
    const c = codec('mesos.v1.TaskStatus');
    const status = (fill: number, n: number) => ({
      task_id: { value: `t${fill}` },
      state: 'TASK_FINISHED',
      data: new Uint8Array(n).fill(fill),
    });
    const big = c.toProtobuf(status(1, 3 << 20));
    const small = c.toProtobuf(status(2, 10));
    const big2 = c.toProtobuf(status(3, 2 << 20));
    expect(c.fromProtobuf(big)).toMatchObject({ task_id: { value: 't1' } });
    expect((c.fromProtobuf(big) as { data: Uint8Array }).data.every((b) => b === 1)).toBe(true);
    expect((c.fromProtobuf(small) as { data: Uint8Array }).data).toEqual(new Uint8Array(10).fill(2));
    expect((c.fromProtobuf(big2) as { data: Uint8Array }).data.length).toBe(2 << 20);
    // The first result is not overwritten by later encodes.
    expect((c.fromProtobuf(big) as { data: Uint8Array }).data.every((b) => b === 1)).toBe(true);
  });

  it('an empty repeated or map field encodes like an unset one', () => {
    const c = codec('mesos.v1.FrameworkInfo');
    const base = { user: 'u', name: 'n' };
    const withEmpty = { ...base, roles: [], capabilities: [], offer_filters: {} };
    expectSameBytes(c.toProtobuf(withEmpty), c.toProtobuf(base));
    expect(c.toJSON(withEmpty)).toBe(c.toJSON(base));
  });

  // BUG (json.ts): 64-bit integers are printed as bare JSON numbers, and `fromJSON` parses them
  // with `JSON.parse`, so a value above 2^53 comes back rounded and is then rejected as
  // "out of range". This breaks both our own round trip and decoding real Mesos events
  // (`TimeInfo.nanoseconds` ≈ 1.7e18 in `unavailability` / `unreachable_time`). Turn into `it`
  // once `fromJSON` reads big integers exactly.
  it('JSON round trip of 64-bit integers above 2^53', () => {
    const c = codec('mesos.v1.TimeInfo');
    const m = { nanoseconds: 1_700_000_000_123_456_789n };
    expect(c.toJSON(m)).toBe('{"nanoseconds":1700000000123456789}');
    expectSame(c.fromJSON(c.toJSON(m)), m);
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Interop with protobufjs

describe('protobuf interop with protobufjs', () => {
  const check = (name: string, m: Message): void => {
    const c = codec(name);
    const ours = c.toProtobuf(m);
    const { reencoded, fromObject } = protobufjsBytes(name, ours, m);
    // protobufjs reads our bytes and writes bytes we read back to the same message …
    expectSame(c.fromProtobuf(reencoded), m);
    // … and bytes it writes from the object form decode to the same message too …
    expectSame(c.fromProtobuf(fromObject), m);
    // … and are the very bytes we write (both write field-number order, proto2 unpacked).
    expectSameBytes(fromObject, ours);
  };

  it.each(ROOTS)(
    '%s',
    (root) => {
      fc.assert(
        fc.property(messageArbitrary(root, { depth: 3, prototypeKeys: false }), (m) => check(root, m)),
        { numRuns: scaledRuns(100) },
      );
    },
    scaledTimeout(100, 10),
  );

  it(
    'every message type',
    () => {
      const sample = fc
        .constantFrom(...ALL_TYPES)
        .chain((name) =>
          messageArbitrary(name, { depth: 2, prototypeKeys: false }).map((m) => ({ name, m })),
        );
      fc.assert(
        fc.property(sample, ({ name, m }) => check(name, m)),
        { numRuns: scaledRuns(200) },
      );
    },
    scaledTimeout(200, 10),
  );

  it.each(ROOTS)('%s: every type, fully set', (root) => {
    for (const t of typeValues(root)) check(root, rootMessageOfType(root, t));
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Wire kinds Mesos' schema does not use (zigzag, fixed, float, packed, huge field numbers),
//    on a test-only .proto compiled by the same code generator.

const SCALARS_PROTO = `
syntax = "proto2";
package mesoskit.test;
message Scalars {
  enum Color { RED = 0; GREEN = 1; NEGATIVE = -1; MAX = 2147483647; }
  optional double o_double = 1;
  optional float o_float = 2;
  optional int32 o_int32 = 3;
  optional uint32 o_uint32 = 4;
  optional sint32 o_sint32 = 5;
  optional fixed32 o_fixed32 = 6;
  optional sfixed32 o_sfixed32 = 7;
  optional int64 o_int64 = 8;
  optional uint64 o_uint64 = 9;
  optional sint64 o_sint64 = 10;
  optional fixed64 o_fixed64 = 11;
  optional sfixed64 o_sfixed64 = 12;
  optional bool o_bool = 13;
  optional string o_string = 14;
  optional bytes o_bytes = 15;
  optional Color o_color = 16;
  repeated double r_double = 21;
  repeated float r_float = 22;
  repeated int32 r_int32 = 23;
  repeated uint32 r_uint32 = 24;
  repeated sint32 r_sint32 = 25;
  repeated fixed32 r_fixed32 = 26;
  repeated sfixed32 r_sfixed32 = 27;
  repeated int64 r_int64 = 28;
  repeated uint64 r_uint64 = 29;
  repeated sint64 r_sint64 = 30;
  repeated fixed64 r_fixed64 = 31;
  repeated sfixed64 r_sfixed64 = 32;
  repeated bool r_bool = 33;
  repeated string r_string = 34;
  repeated bytes r_bytes = 35;
  repeated Color r_color = 36;
  repeated double p_double = 41 [packed = true];
  repeated float p_float = 42 [packed = true];
  repeated int32 p_int32 = 43 [packed = true];
  repeated uint32 p_uint32 = 44 [packed = true];
  repeated sint32 p_sint32 = 45 [packed = true];
  repeated fixed32 p_fixed32 = 46 [packed = true];
  repeated sfixed32 p_sfixed32 = 47 [packed = true];
  repeated int64 p_int64 = 48 [packed = true];
  repeated uint64 p_uint64 = 49 [packed = true];
  repeated sint64 p_sint64 = 50 [packed = true];
  repeated fixed64 p_fixed64 = 51 [packed = true];
  repeated sfixed64 p_sfixed64 = 52 [packed = true];
  repeated bool p_bool = 53 [packed = true];
  repeated Color p_color = 54 [packed = true];
  optional Scalars child = 60;
  map<string, sint64> m_sint64 = 61;
  map<int32, string> m_int32 = 62;
  map<uint64, Scalars> m_uint64 = 63;
  optional int32 o_field_1000 = 1000;
  optional string o_field_2pow28 = 268435456;
  optional uint32 o_field_max = 536870911;
}
`;

describe('every protobuf wire kind (test-only schema) against protobufjs', () => {
  const root = protobuf.parse(SCALARS_PROTO, { keepCase: true }).root;
  root.resolveAll();
  const T = root.lookupType('mesoskit.test.Scalars');
  const model = modelOfType(T, new Map());
  const pb = protobufCodec(model);
  const arb = modelArbitrary(model, { depth: 2, prototypeKeys: false, large: false });

  it(
    'our bytes ↔ protobufjs, both directions (zigzag, two’s complement, fixed, float, packed)',
    () => {
      fc.assert(
        fc.property(arb, (m) => {
          const ours = pb.encode(m);
          expectSame(pb.decode(ours), m);
          const reencoded = T.encode(T.decode(ours)).finish();
          expectSame(pb.decode(reencoded), m);
          // protobufjs writes the [packed = true] fields packed: we must read those too.
          const fromObject = T.encode(
            T.fromObject(toProtobufjsObject(m) as Record<string, unknown>),
          ).finish();
          expectSame(pb.decode(fromObject), m);
        }),
        { numRuns: scaledRuns(300) },
      );
    },
    scaledTimeout(300),
  );

  it('field numbers up to 2^29-1 (5-byte tags)', () => {
    const m = { o_field_1000: -5, o_field_2pow28: 'x', o_field_max: 7 };
    const ours = pb.encode(m);
    expectSameBytes(ours, T.encode(T.fromObject(m)).finish());
    expectSame(pb.decode(ours), m);
  });

  it('64-bit edges in every 64-bit kind', () => {
    const edges = [
      0,
      -1,
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
      2n ** 53n,
      -(2n ** 53n),
      -(2n ** 53n) - 1n,
      2n ** 63n - 1n,
      -(2n ** 63n),
    ];
    for (const kind of ['int64', 'sint64', 'sfixed64']) {
      for (const v of edges) {
        const m = { [`o_${kind}`]: v, [`p_${kind}`]: [v, v] };
        const fromObject = T.encode(T.fromObject(toProtobufjsObject(m) as Record<string, unknown>)).finish();
        expectSame(pb.decode(fromObject), m, `${kind} ${v}`);
        expectSame(pb.decode(pb.encode(m)), m, `${kind} ${v}`);
      }
    }
    for (const kind of ['uint64', 'fixed64']) {
      for (const v of [0, 1, Number.MAX_SAFE_INTEGER, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]) {
        const m = { [`o_${kind}`]: v };
        const fromObject = T.encode(T.fromObject(toProtobufjsObject(m) as Record<string, unknown>)).finish();
        expectSame(pb.decode(fromObject), m, `${kind} ${v}`);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 5. Hand-built protobuf: the decoder's lenient paths

describe('protobuf decoding of hand-built bytes', () => {
  const httpCheck = codec('mesos.v1.HealthCheck.HTTPCheckInfo'); // port = 1 (required), statuses = 4 (repeated uint32)
  const capability = codec('mesos.v1.CapabilityInfo'); // capabilities = 1 (repeated enum)
  const taskId = codec('mesos.v1.TaskID'); // value = 1 (required string)
  const call = codec('mesos.v1.scheduler.Call');

  it('accepts packed repeated scalars, also mixed with unpacked elements', () => {
    expectSame(httpCheck.fromProtobuf(bytesOf(vi(1, 80), ld(4, [1, 2, ...varint(300)]))), {
      port: 80,
      statuses: [1, 2, 300],
    });
    expectSame(httpCheck.fromProtobuf(bytesOf(vi(4, 7), vi(1, 80), ld(4, [8, 9]), vi(4, 10))), {
      port: 80,
      statuses: [7, 8, 9, 10],
    });
    expectSame(httpCheck.fromProtobuf(bytesOf(vi(1, 80), ld(4, []))), { port: 80 });
    // CapabilityInfo.capabilities: repeated enum (CHOWN = 1000, KILL = 1005).
    expectSame(capability.fromProtobuf(bytesOf(ld(1, [...varint(1000), ...varint(1005)]), vi(1, 1000))), {
      capabilities: ['CHOWN', 'KILL', 'CHOWN'],
    });
  });

  it('skips unknown fields of every wire type, groups included', () => {
    const unknown = [
      vi(15, 150),
      vi(16, -1n), // 10-byte varint
      [...tag(17, 1), 1, 2, 3, 4, 5, 6, 7, 8],
      ld(18, utf8('abc')),
      [...tag(19, 5), 9, 9, 9, 9],
      // group 20 { varint, length-delimited, nested group 21 { fixed32 } }
      [
        ...tag(20, 3),
        ...vi(1, 1),
        ...ld(2, [0xff, 0xfe]),
        ...tag(21, 3),
        ...tag(1, 5),
        0,
        0,
        0,
        0,
        ...tag(21, 4),
        ...tag(20, 4),
      ],
      ld(536870911, [1]),
    ];
    expectSame(taskId.fromProtobuf(bytesOf(...unknown, ld(1, utf8('x')), ...unknown)), { value: 'x' });
    // Inside a nested message too, and a known field number with an unexpected wire type is unknown.
    const subscribe = bytesOf(
      vi(2, 1),
      ld(3, ld(1, [...ld(1, utf8('u')), ...ld(2, utf8('n')), ...unknown.flat(), ...vi(1, 5)])),
    );
    expectSame(call.fromProtobuf(subscribe), {
      type: 'SUBSCRIBE',
      subscribe: { framework_info: { user: 'u', name: 'n' } },
    });
  });

  it('drops an unrecognised enum number like an unknown field', () => {
    expectSame(call.fromProtobuf(bytesOf(vi(2, 99))), {});
    expectSame(call.fromProtobuf(bytesOf(vi(2, -1n))), {});
    expectSame(call.fromProtobuf(bytesOf(vi(2, 99), vi(2, 1))), { type: 'SUBSCRIBE' });
    expectSame(call.fromProtobuf(bytesOf(vi(2, 1), vi(2, 99))), { type: 'SUBSCRIBE' });
    // In a repeated enum, only the unknown elements go.
    expectSame(capability.fromProtobuf(bytesOf(ld(1, [99, ...varint(1005), 100]))), {
      capabilities: ['KILL'],
    });
    expectSame(capability.fromProtobuf(bytesOf(vi(1, 99), vi(1, 1005))), { capabilities: ['KILL'] });
  });

  it('an unrecognised number in a required enum field leaves it missing', () => {
    const status = codec('mesos.v1.TaskStatus'); // task_id = 1, state = 2 (both required)
    const bytes = bytesOf(ld(1, ld(1, utf8('t'))), vi(2, 99));
    expect(() => status.fromProtobuf(bytes)).toThrow(
      expect.objectContaining({ code: 'MESOS_MISSING_REQUIRED', message: expect.stringContaining('state') }),
    );
  });

  it('the last occurrence of a non-repeated scalar field wins', () => {
    expectSame(call.fromProtobuf(bytesOf(vi(2, 1), vi(2, 2))), { type: 'TEARDOWN' });
    expectSame(taskId.fromProtobuf(bytesOf(ld(1, utf8('first')), ld(1, utf8('second')))), {
      value: 'second',
    });
    const filters = codec('mesos.v1.Filters');
    expectSame(filters.fromProtobuf(bytesOf([...tag(1, 1), ...f64le(1)], [...tag(1, 1), ...f64le(2.5)])), {
      refuse_seconds: 2.5,
    });
  });

  // Proto2 (C++, protobufjs) merges repeated occurrences of a singular embedded message; our
  // decoder keeps only the last one. Mesos never splits a message this way, so this is a
  // documented deviation rather than a wire bug.
  it.fails('DEVIATION: repeated occurrences of a singular message field are merged', () => {
    const cid = codec('mesos.v1.ContainerID'); // value = 1, parent = 2
    const bytes = bytesOf(
      ld(2, [...ld(1, utf8('p')), ...ld(2, ld(1, utf8('q')))]),
      ld(2, ld(1, utf8('p2'))),
      ld(1, utf8('x')),
    );
    expectSame(cid.fromProtobuf(bytes), { value: 'x', parent: { value: 'p2', parent: { value: 'q' } } });
  });

  it('NaN (and its payload-free bit patterns) survive protobuf', () => {
    const filters = codec('mesos.v1.Filters');
    const back = filters.fromProtobuf(filters.toProtobuf({ refuse_seconds: Number.NaN }));
    expect(Number.isNaN(back.refuse_seconds)).toBe(true);
    // A signalling NaN and a negative quiet NaN from another writer are still NaN.
    for (const pattern of [
      [1, 0, 0, 0, 0, 0, 0xf0, 0x7f],
      [0, 0, 0, 0, 0, 0, 0xf8, 0xff],
    ]) {
      const d = filters.fromProtobuf(bytesOf([...tag(1, 1), ...pattern]));
      expect(Number.isNaN(d.refuse_seconds)).toBe(true);
    }
    const pbjsFilters = pbjs.lookupType('mesos.v1.Filters');
    const viaPbjs = pbjsFilters
      .encode(pbjsFilters.decode(filters.toProtobuf({ refuse_seconds: Number.NaN })))
      .finish();
    expect(Number.isNaN(filters.fromProtobuf(viaPbjs).refuse_seconds)).toBe(true);
  });

  it('decoded bytes are copies, never views of the input (also for a Node Buffer)', () => {
    const c = codec('mesos.v1.scheduler.Call.Message');
    const m = { agent_id: { value: 'a' }, executor_id: { value: 'e' }, data: Uint8Array.of(1, 2, 3) };
    for (const input of [c.toProtobuf(m), Buffer.from(c.toProtobuf(m))]) {
      const d = c.fromProtobuf(input);
      expectSame(d, m);
      expect((d.data as Uint8Array).constructor).toBe(Uint8Array);
      input.fill(0);
      expect(d.data).toStrictEqual(Uint8Array.of(1, 2, 3));
    }
  });

  it('strings of every short length, ASCII or not, decode intact (short ones are built in JS)', () => {
    const c = codec('mesos.v1.TaskID');
    for (let n = 0; n <= 14; n++) {
      for (const value of [
        'x'.repeat(n),
        'é'.repeat(Math.ceil(n / 2)),
        `${'a'.repeat(Math.max(0, n - 1))}\u007f`,
      ]) {
        const bytes = c.toProtobuf({ value });
        expect(c.fromProtobuf(bytes).value).toBe(value);
        expect(c.fromProtobuf(Buffer.from(bytes)).value).toBe(value);
      }
    }
    // A lone invalid byte becomes U+FFFD, in short strings as in long ones.
    for (const n of [3, 20]) {
      const raw = new Uint8Array(n).fill(0x61);
      raw[1] = 0xff;
      expect(c.fromProtobuf(bytesOf(ld(1, [...raw]))).value).toBe(`a\ufffd${'a'.repeat(n - 2)}`);
    }
  });

  it('decoded messages are plain objects', () => {
    const d = codec('mesos.v1.TaskStatus').fromProtobuf(
      codec('mesos.v1.TaskStatus').toProtobuf({ task_id: { value: 't' }, state: 'TASK_RUNNING' }),
    );
    expect(Object.getPrototypeOf(d)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(d.task_id)).toBe(Object.prototype);
    expect(Object.keys(d)).toEqual(['task_id', 'state']);
    expect(d.constructor).toBe(Object);
  });

  it('decodes from a view into a larger buffer (non-zero byteOffset)', () => {
    const c = codec('mesos.v1.FrameworkInfo');
    const m = { user: 'u', name: 'n'.repeat(50), roles: ['é'.repeat(30)] };
    const bytes = c.toProtobuf(m);
    const big = new Uint8Array(bytes.length + 20).fill(0xff);
    big.set(bytes, 10);
    expectSame(c.fromProtobuf(big.subarray(10, 10 + bytes.length)), m);
  });

  it('map entries with a missing key or value take the zero key / empty value', () => {
    const info = codec('mesos.v1.TaskInfo'); // limits = 15: map<string, Value.Scalar>
    const required = [...ld(1, utf8('t')), ...ld(2, ld(1, utf8('id'))), ...ld(3, ld(1, utf8('agent')))];
    const scalar = [...tag(1, 1), ...f64le(1.5)];
    expectSame(info.fromProtobuf(bytesOf(required, ld(15, ld(2, scalar)))), {
      name: 't',
      task_id: { value: 'id' },
      agent_id: { value: 'agent' },
      limits: { '': { value: 1.5 } },
    });
    // A missing message value is an empty message: Value.Scalar requires `value`.
    expect(() => info.fromProtobuf(bytesOf(required, ld(15, ld(1, utf8('cpus')))))).toThrow(
      expect.objectContaining({ code: 'MESOS_MISSING_REQUIRED' }),
    );
  });

  it('map keys such as __proto__ become own keys and never touch a prototype', () => {
    const fw = codec('mesos.v1.FrameworkInfo'); // offer_filters = 13: map<string, OfferFilters>
    const filters: Record<string, unknown> = {};
    setOwn(filters, '__proto__', {});
    setOwn(filters, 'constructor', {});
    const msg = { user: 'u', name: 'n', offer_filters: filters };
    const back = fw.fromProtobuf(fw.toProtobuf(msg));
    expectSame(back, msg);
    const of = back.offer_filters as Record<string, unknown>;
    expect(Object.getPrototypeOf(of)).toBe(Object.prototype);
    expect(Object.keys(of)).toEqual(['__proto__', 'constructor']);
    expect(({} as Record<string, unknown>).constructor).toBe(Object);
  });
});
