/**
 * The worked examples of the Mesos v1 API reference (`mesos-v1-api.md` §7.1–7.4), replayed
 * through the codecs. The example bodies and records are copied below as data.
 *
 * - Client JSON (pretty-printed in §7; whitespace and key order are irrelevant on input):
 *   JSON → message → protobuf → message → JSON must give the same JSON value, except for the
 *   defaults Mesos prints for unset optional fields, which the examples omit. Each example lists
 *   the defaults it gains (`addedDefaults`).
 * - Server records (shown in §7 exactly as Mesos serialises them): the same trip must give the
 *   text back byte for byte, with the record lengths and HTTP chunk sizes §7 states.
 * - Protobuf bytes given in §7 (the protobuf HEARTBEAT record `32 0a 08 08`) must match.
 */
import { describe, expect, it } from 'vitest';
import {
  encodeRecord,
  executorCall,
  executorEvent,
  type MessageCodec,
  RecordIODecoder,
  schedulerCall,
  schedulerEvent,
} from '../src/index.js';

type Json = Record<string, unknown>;

const FRAMEWORK_ID = '5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-0000';
/** §7.4: the RFC 4122 UUID 3f8a2c4e-9b1d-4e6f-a2c3-5d7e9f1b2c4d as 16 bytes (base64 P4osTpsdTm+iw11+nxssTQ==). */
const STATUS_UUID = Uint8Array.from([
  0x3f, 0x8a, 0x2c, 0x4e, 0x9b, 0x1d, 0x4e, 0x6f, 0xa2, 0xc3, 0x5d, 0x7e, 0x9f, 0x1b, 0x2c, 0x4d,
]);

interface ClientExample {
  name: string;
  codec: MessageCodec<Json>;
  json: string;
  /** Paths (array indices as `[n]`) of the defaults `toJSON` prints that the example omits, with their values. */
  addedDefaults: Record<string, unknown>;
}

interface ServerExample {
  name: string;
  codec: MessageCodec<Json>;
  record: string;
  /** The record length §7 states (the RecordIO prefix). */
  length: number;
  /** The HTTP chunk size §7 states (prefix + LF + record), when it gives one. */
  chunk?: number;
}

const asJsonCodec = <T>(codec: MessageCodec<T>): MessageCodec<Json> => codec as unknown as MessageCodec<Json>;

// §7.1: scheduler SUBSCRIBE request body.
const SUBSCRIBE = `{
  "type": "SUBSCRIBE",
  "subscribe": {
    "framework_info": {
      "user": "svc",
      "name": "demo-ts",
      "roles": ["demo"],
      "capabilities": [{"type": "MULTI_ROLE"}],
      "failover_timeout": 604800,
      "checkpoint": true
    }
  }
}`;

// §7.1: the SUBSCRIBED and HEARTBEAT records, then an OFFERS record.
const SUBSCRIBED =
  '{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-0000"},"heartbeat_interval_seconds":15.0,"master_info":{"id":"5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11","ip":16777343,"port":5050,"pid":"master@127.0.0.1:5050","hostname":"localhost","version":"1.12.0","address":{"hostname":"localhost","ip":"127.0.0.1","port":5050},"capabilities":[{"type":"AGENT_UPDATE"},{"type":"AGENT_DRAINING"},{"type":"QUOTA_V2"}]}}}';
const HEARTBEAT = '{"type":"HEARTBEAT"}';
const OFFERS =
  '{"type":"OFFERS","offers":{"offers":[{"id":{"value":"5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-O3"},"framework_id":{"value":"5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-0000"},"agent_id":{"value":"5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-S0"},"hostname":"localhost","url":{"scheme":"http","address":{"hostname":"localhost","ip":"127.0.0.1","port":5051},"path":"/slave(1)"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":4.0},"role":"*","allocation_info":{"role":"demo"}},{"name":"mem","type":"SCALAR","scalar":{"value":6912.0},"role":"*","allocation_info":{"role":"demo"}},{"name":"disk","type":"SCALAR","scalar":{"value":45000.0},"role":"*","allocation_info":{"role":"demo"}},{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]},"role":"*","allocation_info":{"role":"demo"}}],"allocation_info":{"role":"demo"}}]}}';

// §7.1: the protobuf HEARTBEAT chunk payload: the RecordIO record `2\n` + 08 08.
const HEARTBEAT_PROTOBUF_RECORD = Uint8Array.from([0x32, 0x0a, 0x08, 0x08]);

// §7.2: ACCEPT with one LAUNCH on a custom executor.
const ACCEPT = `{
  "framework_id": {"value": "5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-0000"},
  "type": "ACCEPT",
  "accept": {
    "offer_ids": [{"value": "5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-O3"}],
    "operations": [{
      "type": "LAUNCH",
      "launch": {
        "task_infos": [{
          "name": "job-1",
          "task_id": {"value": "job-1"},
          "agent_id": {"value": "5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-S0"},
          "resources": [
            {"name": "cpus",  "type": "SCALAR", "scalar": {"value": 0.5}},
            {"name": "mem",   "type": "SCALAR", "scalar": {"value": 128}},
            {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31005, "end": 31005}]}}
          ],
          "executor": {
            "executor_id": {"value": "exec-1"},
            "name": "ts-executor",
            "command": {
              "value": "exec ./ts-executor --log-level=info",
              "uris": [{"value": "http://artifacts.local/ts-executor", "executable": true}]
            },
            "resources": [
              {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
              {"name": "mem",  "type": "SCALAR", "scalar": {"value": 32}}
            ]
          },
          "data": "eyJqb2IiOjF9",
          "labels": {"labels": [{"key": "owner", "value": "team-ts"}]}
        }]
      }
    }],
    "filters": {"refuse_seconds": 10}
  }
}`;

// §7.2: a master-generated UPDATE (no uuid).
const TASK_ERROR_UPDATE =
  '{"type":"UPDATE","update":{"status":{"task_id":{"value":"job-2"},"state":"TASK_ERROR","message":"Task uses no resources","source":"SOURCE_MASTER","reason":"REASON_TASK_INVALID","agent_id":{"value":"5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-S0"},"timestamp":1718000001.5}}}';

// §7.3: executor SUBSCRIBE request body.
const EXECUTOR_SUBSCRIBE = `{
  "type": "SUBSCRIBE",
  "framework_id": {"value": "5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-0000"},
  "executor_id": {"value": "exec-1"},
  "subscribe": {}
}`;

// §7.3: the executor's SUBSCRIBED and LAUNCH records.
const EXECUTOR_SUBSCRIBED =
  '{"type":"SUBSCRIBED","subscribed":{"executor_info":{"executor_id":{"value":"exec-1"},"framework_id":{"value":"5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-0000"},"command":{"uris":[{"value":"http://artifacts.local/ts-executor","executable":true,"extract":true}],"shell":true,"value":"exec ./ts-executor --log-level=info"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1},"allocation_info":{"role":"demo"}},{"name":"mem","type":"SCALAR","scalar":{"value":32.0},"allocation_info":{"role":"demo"}}],"name":"ts-executor"},"framework_info":{"user":"svc","name":"demo-ts","id":{"value":"5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-0000"},"failover_timeout":604800.0,"checkpoint":true,"roles":["demo"],"capabilities":[{"type":"MULTI_ROLE"}]},"agent_info":{"hostname":"localhost","port":5051,"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":4.0}},{"name":"mem","type":"SCALAR","scalar":{"value":6912.0}},{"name":"disk","type":"SCALAR","scalar":{"value":45000.0}},{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]}}],"id":{"value":"5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-S0"}},"container_id":{"value":"e3b0c442-98fc-4c14-9afb-f4c8996fb924"}}}';
const EXECUTOR_LAUNCH =
  '{"type":"LAUNCH","launch":{"task":{"name":"job-1","task_id":{"value":"job-1"},"agent_id":{"value":"5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-S0"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.5},"allocation_info":{"role":"demo"}},{"name":"mem","type":"SCALAR","scalar":{"value":128.0},"allocation_info":{"role":"demo"}},{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31005,"end":31005}]},"allocation_info":{"role":"demo"}}],"executor":{"executor_id":{"value":"exec-1"},"framework_id":{"value":"5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-0000"},"command":{"uris":[{"value":"http://artifacts.local/ts-executor","executable":true,"extract":true}],"shell":true,"value":"exec ./ts-executor --log-level=info"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1},"allocation_info":{"role":"demo"}},{"name":"mem","type":"SCALAR","scalar":{"value":32.0},"allocation_info":{"role":"demo"}}],"name":"ts-executor"},"data":"eyJqb2IiOjF9","labels":{"labels":[{"key":"owner","value":"team-ts"}]}}}}';

// §7.4 (1): executor UPDATE request body.
const EXECUTOR_UPDATE = `{
  "type": "UPDATE",
  "framework_id": {"value": "5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-0000"},
  "executor_id": {"value": "exec-1"},
  "update": {
    "status": {
      "task_id": {"value": "job-1"},
      "state": "TASK_RUNNING",
      "source": "SOURCE_EXECUTOR",
      "uuid": "P4osTpsdTm+iw11+nxssTQ==",
      "timestamp": 1718000000.25
    }
  }
}`;

// §7.4 (2): the agent's ACKNOWLEDGED record on the executor stream.
const EXECUTOR_ACKNOWLEDGED =
  '{"type":"ACKNOWLEDGED","acknowledged":{"task_id":{"value":"job-1"},"uuid":"P4osTpsdTm+iw11+nxssTQ=="}}';

// §7.4 (3): the master's UPDATE record on the scheduler stream.
const SCHEDULER_UPDATE =
  '{"type":"UPDATE","update":{"status":{"task_id":{"value":"job-1"},"state":"TASK_RUNNING","source":"SOURCE_EXECUTOR","agent_id":{"value":"5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-S0"},"executor_id":{"value":"exec-1"},"timestamp":1718000000.25,"uuid":"P4osTpsdTm+iw11+nxssTQ==","container_status":{"container_id":{"value":"e3b0c442-98fc-4c14-9afb-f4c8996fb924"},"network_infos":[{"ip_addresses":[{"protocol":"IPv4","ip_address":"127.0.0.1"}]}],"executor_pid":4242}}}}';

// §7.4 (4): the scheduler's ACKNOWLEDGE request body.
const ACKNOWLEDGE = `{
  "framework_id": {"value": "5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-0000"},
  "type": "ACKNOWLEDGE",
  "acknowledge": {
    "agent_id": {"value": "5c1d9b2e-9a44-4a7c-8f39-0f3e1a2b7c11-S0"},
    "task_id": {"value": "job-1"},
    "uuid": "P4osTpsdTm+iw11+nxssTQ=="
  }
}`;

const CLIENT_EXAMPLES: ClientExample[] = [
  // FrameworkInfo's defaulted fields (failover_timeout, checkpoint) are both given.
  { name: '7.1 scheduler SUBSCRIBE', codec: asJsonCodec(schedulerCall), json: SUBSCRIBE, addedDefaults: {} },
  {
    name: '7.2 ACCEPT with LAUNCH',
    codec: asJsonCodec(schedulerCall),
    json: ACCEPT,
    // CommandInfo.shell [default = true] and CommandInfo.URI.extract [default = true], which
    // the scheduler omits and the executor later sees written out (§7.3).
    addedDefaults: {
      'accept.operations[0].launch.task_infos[0].executor.command.shell': true,
      'accept.operations[0].launch.task_infos[0].executor.command.uris[0].extract': true,
    },
  },
  {
    name: '7.3 executor SUBSCRIBE',
    codec: asJsonCodec(executorCall),
    json: EXECUTOR_SUBSCRIBE,
    addedDefaults: {},
  },
  { name: '7.4 executor UPDATE', codec: asJsonCodec(executorCall), json: EXECUTOR_UPDATE, addedDefaults: {} },
  {
    name: '7.4 scheduler ACKNOWLEDGE',
    codec: asJsonCodec(schedulerCall),
    json: ACKNOWLEDGE,
    addedDefaults: {},
  },
];

const SERVER_EXAMPLES: ServerExample[] = [
  {
    name: '7.1 SUBSCRIBED',
    codec: asJsonCodec(schedulerEvent),
    record: SUBSCRIBED,
    length: 448,
    chunk: 0x1c4,
  },
  { name: '7.1 HEARTBEAT', codec: asJsonCodec(schedulerEvent), record: HEARTBEAT, length: 20, chunk: 0x17 },
  { name: '7.1 OFFERS', codec: asJsonCodec(schedulerEvent), record: OFFERS, length: 841, chunk: 0x34d },
  {
    name: '7.2 UPDATE TASK_ERROR',
    codec: asJsonCodec(schedulerEvent),
    record: TASK_ERROR_UPDATE,
    length: 267,
  },
  {
    name: '7.3 executor SUBSCRIBED',
    codec: asJsonCodec(executorEvent),
    record: EXECUTOR_SUBSCRIBED,
    length: 1177,
    chunk: 0x49e,
  },
  {
    name: '7.3 executor LAUNCH',
    codec: asJsonCodec(executorEvent),
    record: EXECUTOR_LAUNCH,
    length: 1018,
    chunk: 0x3ff,
  },
  {
    name: '7.4 executor ACKNOWLEDGED',
    codec: asJsonCodec(executorEvent),
    record: EXECUTOR_ACKNOWLEDGED,
    length: 102,
    chunk: 0x6a,
  },
  {
    name: '7.4 scheduler UPDATE',
    codec: asJsonCodec(schedulerEvent),
    record: SCHEDULER_UPDATE,
    length: 460,
    chunk: 0x1d0,
  },
];

const enc = new TextEncoder();
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** JSON → message → protobuf → message → JSON. */
function viaProtobuf(codec: MessageCodec<Json>, json: string): { message: Json; again: Json; json: string } {
  const message = codec.fromJSON(json);
  const again = codec.fromProtobuf(codec.toProtobuf(message));
  return { message, again, json: codec.toJSON(again) };
}

/** Leaf paths present in `b` but not in `a`, with their values (array indices as `[n]`). */
function addedLeaves(a: unknown, b: unknown, path = ''): Record<string, unknown> {
  if (typeof b !== 'object' || b === null) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(b)) {
    const p = Array.isArray(b) ? `${path}[${k}]` : path ? `${path}.${k}` : k;
    const old = typeof a === 'object' && a !== null ? (a as Json)[k] : undefined;
    if (old === undefined) out[p] = v;
    else Object.assign(out, addedLeaves(old, v, p));
  }
  return out;
}

/** `b` without the leaves at `paths`. */
function withoutPaths(b: unknown, paths: string[], path = ''): unknown {
  if (typeof b !== 'object' || b === null) return b;
  if (Array.isArray(b)) return b.map((v, i) => withoutPaths(v, paths, `${path}[${i}]`));
  const out: Json = {};
  for (const [k, v] of Object.entries(b)) {
    const p = path ? `${path}.${k}` : k;
    if (!paths.includes(p)) out[k] = withoutPaths(v, paths, p);
  }
  return out;
}

describe('§7 client JSON bodies: JSON → message → protobuf → message → JSON', () => {
  for (const ex of CLIENT_EXAMPLES) {
    it(`${ex.name}: same JSON value, plus only the printed defaults the example omits`, () => {
      const original = JSON.parse(ex.json) as unknown;
      const trip = viaProtobuf(ex.codec, ex.json);
      expect(trip.again).toEqual(trip.message);
      const result = JSON.parse(trip.json) as unknown;
      expect(addedLeaves(original, result)).toEqual(ex.addedDefaults);
      expect(withoutPaths(result, Object.keys(ex.addedDefaults))).toEqual(original);
    });
  }
});

describe('§7 server records: JSON → message → protobuf → message → JSON, byte for byte', () => {
  for (const ex of SERVER_EXAMPLES) {
    it(`${ex.name}: ${ex.length} bytes${ex.chunk === undefined ? '' : `, chunk 0x${ex.chunk.toString(16)}`}`, () => {
      const bytes = enc.encode(ex.record);
      expect(bytes.length).toBe(ex.length);
      if (ex.chunk !== undefined) expect(encodeRecord(bytes).length).toBe(ex.chunk);
      const trip = viaProtobuf(ex.codec, ex.record);
      expect(trip.again).toEqual(trip.message);
      expect(trip.json).toBe(ex.record);
      expect(ex.codec.decode(ex.codec.encode(trip.message, 'json'), 'json')).toEqual(trip.message);
    });
  }
});

describe('§7 protobuf bytes', () => {
  it('7.1 HEARTBEAT in protobuf is the record `2\\n` + 08 08 (chunk of 4 bytes: 32 0a 08 08)', () => {
    const payload = schedulerEvent.toProtobuf({ type: 'HEARTBEAT' });
    expect(hex(payload)).toBe('0808');
    expect(hex(encodeRecord(payload))).toBe(hex(HEARTBEAT_PROTOBUF_RECORD));
    const decoder = new RecordIODecoder();
    const records = decoder.push(HEARTBEAT_PROTOBUF_RECORD);
    decoder.end();
    expect(records.map(hex)).toEqual(['0808']);
    const event = schedulerEvent.fromProtobuf(records[0]!);
    expect(event).toEqual({ type: 'HEARTBEAT' });
    expect(schedulerEvent.toJSON(event)).toBe(HEARTBEAT);
  });
});

describe('§7 values across the examples', () => {
  it('7.4: one status uuid, the 16 UUID bytes (not its text), in all four messages', () => {
    const call = executorCall.fromJSON(EXECUTOR_UPDATE);
    const ack = executorEvent.fromJSON(EXECUTOR_ACKNOWLEDGED);
    const update = schedulerEvent.fromJSON(SCHEDULER_UPDATE);
    const acknowledge = schedulerCall.fromJSON(ACKNOWLEDGE);
    const uuids = [
      call.update?.status.uuid,
      ack.acknowledged?.uuid,
      update.update?.status.uuid,
      acknowledge.acknowledge?.uuid,
    ];
    for (const uuid of uuids) {
      expect(uuid).toBeInstanceOf(Uint8Array);
      expect(hex(uuid!)).toBe(hex(STATUS_UUID));
    }
    expect(hex(STATUS_UUID)).toBe('3f8a2c4e-9b1d-4e6f-a2c3-5d7e9f1b2c4d'.replaceAll('-', ''));
    // The protobuf carries the 16 raw bytes: field 11 (uuid) of TaskStatus, length 16.
    const status = executorCall.toProtobuf(call);
    expect(hex(status)).toContain(`5a10${hex(STATUS_UUID)}`);
  });

  it('7.2 and 7.4: timestamps survive both encodings exactly', () => {
    for (const [codec, json, value] of [
      [asJsonCodec(schedulerEvent), TASK_ERROR_UPDATE, 1718000001.5],
      [asJsonCodec(executorCall), EXECUTOR_UPDATE, 1718000000.25],
      [asJsonCodec(schedulerEvent), SCHEDULER_UPDATE, 1718000000.25],
    ] as const) {
      const again = codec.fromProtobuf(codec.toProtobuf(codec.fromJSON(json)));
      const status = (again.update as { status: { timestamp?: number } }).status;
      expect(status.timestamp).toBe(value);
    }
  });

  it('7.2 → 7.3: the task the executor is launched with is the task the scheduler sent, filled in by Mesos', () => {
    const accept = schedulerCall.fromJSON(ACCEPT);
    const sent = accept.accept?.operations?.[0]?.launch?.task_infos?.[0];
    const launched = executorEvent.fromJSON(EXECUTOR_LAUNCH).launch?.task;
    expect(sent?.data).toEqual(enc.encode('{"job":1}'));
    expect(launched?.data).toEqual(sent?.data);
    // What Mesos adds: ExecutorInfo.framework_id, and allocation_info on every resource. The
    // defaults it writes out (shell, extract) are what toJSON prints for the scheduler's task too.
    expect(sent?.executor).toBeDefined();
    const filledIn = executorEvent.toJSON({
      type: 'LAUNCH',
      launch: { task: { ...sent!, executor: { ...sent!.executor!, framework_id: { value: FRAMEWORK_ID } } } },
    });
    const withoutAllocation = (json: string): string =>
      JSON.stringify(
        JSON.parse(json, (key, value: unknown) => (key === 'allocation_info' ? undefined : value)),
      );
    expect(withoutAllocation(filledIn)).toBe(withoutAllocation(EXECUTOR_LAUNCH));
    expect(filledIn).not.toBe(EXECUTOR_LAUNCH);
  });
});
