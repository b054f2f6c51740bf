/**
 * Protocol microbenchmarks: the per-task costs every scheduler, executor and local cluster
 * pays on the wire (envelopes, TaskStatus and Event(UPDATE) in both encodings, RecordIO).
 */
import {
  codecFor,
  decodeLaunchEnvelope,
  encodeLaunchEnvelope,
  encodeRecord,
  type mesos,
  RecordIODecoder,
  schedulerEvent,
} from '@mesoskit/protocol';
import protobuf from 'protobufjs';
import type { BenchCase } from './harness.js';

const uuid = Uint8Array.from([7, 140, 208, 57, 44, 110, 78, 226, 179, 109, 62, 72, 182, 46, 63, 58]);

/** A terminal update as an executor sends it (ids and sizes as in the real-Mesos captures). */
const status: mesos.v1.TaskStatus = {
  task_id: { value: 'pb1' },
  state: 'TASK_FINISHED',
  message: 'Command exited with status 0',
  source: 'SOURCE_EXECUTOR',
  agent_id: { value: '3d5c5198-35f9-44d8-a855-24a3da3c2acf-S0' },
  executor_id: { value: 'pb1' },
  timestamp: 1795258008.90224,
  uuid,
  container_status: {
    container_id: { value: '39aca483-308d-4066-adb7-c6ac7e973a93' },
    network_infos: [{ ip_addresses: [{ protocol: 'IPv4', ip_address: '127.0.0.1' }] }],
    executor_pid: 12148,
  },
};
const update: mesos.v1.scheduler.Event = { type: 'UPDATE', update: { status } };

const taskStatus = codecFor<mesos.v1.TaskStatus>('mesos.v1.TaskStatus');
const statusPb = taskStatus.toProtobuf(status);
const statusJson = taskStatus.toJSON(status);
const updatePb = schedulerEvent.toProtobuf(update);
// What the RecordIO decoder hands over on Node: a Buffer view of the response chunk.
const updatePbBuffer = Buffer.from(updatePb);
const updateJson = schedulerEvent.toJSON(update);

const launch = {
  v: 1 as const,
  task: 'bench.noop',
  taskVersion: 1,
  attempt: 1,
  input: { url: 'https://example.com/u/1', n: 3 },
};

// Each case loops itself (no shared `loop(fn)` helper): a call site shared by every case turns
// megamorphic and would measure the harness, not the code. The calls have side effects V8
// cannot see through, so they are not optimised away.
// RecordIO: ~110-byte records packed into 64 KiB chunks, as a busy stream delivers them.
const RECORD = new Uint8Array(106).fill(0x61); // 106 + "106\n" = 110 bytes on the wire
const chunk = (() => {
  const one = encodeRecord(RECORD);
  const count = Math.floor(65536 / one.length);
  const out = new Uint8Array(count * one.length);
  for (let i = 0; i < count; i++) out.set(one, i * one.length);
  return { bytes: out, records: count };
})();

// protobufjs' own reflection codec, for comparison with ours (same schema, same bytes).
const pbRoot = (() => {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) =>
    new URL(`../packages/protocol/proto/${target}`, import.meta.url).pathname;
  root.loadSync(['mesos/v1/scheduler/scheduler.proto'], { keepCase: true });
  root.resolveAll();
  return root;
})();
const PbEvent = pbRoot.lookupType('mesos.v1.scheduler.Event');

export const protocolCases: BenchCase[] = [
  {
    name: 'protocol.launch-envelope.roundtrip',
    unit: 'round trips',
    run: (n) => {
      for (let i = 0; i < n; i++) decodeLaunchEnvelope(encodeLaunchEnvelope(launch));
      return n;
    },
    target: 1_000_000,
    targetText: '≥ 1,000,000/s',
  },
  {
    name: 'protocol.task-status.protobuf.encode',
    unit: 'messages',
    run: (n) => {
      for (let i = 0; i < n; i++) taskStatus.toProtobuf(status);
      return n;
    },
  },
  {
    name: 'protocol.task-status.protobuf.decode',
    unit: 'messages',
    run: (n) => {
      for (let i = 0; i < n; i++) taskStatus.fromProtobuf(statusPb);
      return n;
    },
  },
  {
    name: 'protocol.task-status.json.encode',
    unit: 'messages',
    run: (n) => {
      for (let i = 0; i < n; i++) taskStatus.toJSON(status);
      return n;
    },
  },
  {
    name: 'protocol.task-status.json.decode',
    unit: 'messages',
    run: (n) => {
      for (let i = 0; i < n; i++) taskStatus.fromJSON(statusJson);
      return n;
    },
  },
  {
    name: 'protocol.event-update.protobuf.decode',
    unit: 'events',
    run: (n) => {
      for (let i = 0; i < n; i++) schedulerEvent.fromProtobuf(updatePbBuffer);
      return n;
    },
    target: 2_000_000,
    targetText: '≥ 2,000,000/s',
  },
  {
    name: 'protocol.event-update.protobuf.decode-uint8array',
    unit: 'events',
    run: (n) => {
      for (let i = 0; i < n; i++) schedulerEvent.fromProtobuf(updatePb);
      return n;
    },
  },
  {
    name: 'protocol.event-update.protobuf.encode',
    unit: 'events',
    run: (n) => {
      for (let i = 0; i < n; i++) schedulerEvent.toProtobuf(update);
      return n;
    },
  },
  {
    name: 'protocol.event-update.json.decode',
    unit: 'events',
    run: (n) => {
      for (let i = 0; i < n; i++) schedulerEvent.fromJSON(updateJson);
      return n;
    },
  },
  {
    name: 'protocol.event-update.json.encode',
    unit: 'events',
    run: (n) => {
      for (let i = 0; i < n; i++) schedulerEvent.toJSON(update);
      return n;
    },
  },
  {
    name: 'protocol.event-update.protobufjs-reflection.decode+toObject',
    unit: 'events',
    run: (n) => {
      for (let i = 0; i < n; i++)
        PbEvent.toObject(PbEvent.decode(updatePb), { enums: String, longs: Number });
      return n;
    },
  },
  {
    name: 'protocol.recordio.parse',
    unit: 'records',
    run: (n) => {
      const dec = new RecordIODecoder();
      let records = 0;
      const chunks = Math.max(1, Math.ceil(n / chunk.records));
      for (let i = 0; i < chunks; i++) records += dec.push(chunk.bytes).length;
      return records;
    },
    target: 5_000_000,
    targetText: '≥ 5,000,000/s',
  },
  {
    name: 'protocol.recordio.encode',
    unit: 'records',
    run: (n) => {
      for (let i = 0; i < n; i++) encodeRecord(RECORD);
      return n;
    },
  },
];
