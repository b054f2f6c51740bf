// The conformance suite's stand-in for the capture executor used to record the real-Mesos
// scenarios (capture-executor.js / capture-executor-pb.js): the same calls, data and messages,
// so the scheduler-side and executor-side streams can be compared with the captures.
// Plain Node ESM: node:http plus @mesoskit/protocol's built codecs.
//
// Task behaviour comes from TaskInfo.data, JSON {"mode": …} (as in the captures):
//   finish: RUNNING (data "running-data for <id>"), then FINISHED (data 00 01 02 fe ff 'hi')
//   run: RUNNING only               msg: RUNNING, then a MESSAGE call "hello from executor"
//   crash: exit(1) once RUNNING is ACKNOWLEDGED     exit0: exit(0) once RUNNING is ACKNOWLEDGED
//   stubborn: ignores KILL and SHUTDOWN
//   resub: after RUNNING is ACKNOWLEDGED, a second SUBSCRIBE, then FINISHED on the new stream
// LAUNCH_GROUP: RUNNING then FINISHED ("group task running/finished") for every task.
// A MESSAGE event is answered with a MESSAGE call "pong: <data>". KILL → TASK_KILLED. SHUTDOWN →
// TASK_KILLED for every live task, then exit 0. CAPTURE_PRE=1: an UPDATE and a MESSAGE before
// SUBSCRIBE. With --protobuf: the protobuf flow of capture 18.
// Everything received and every response is written to $CAPTURE_OUT/executor-<pid>.jsonl, the
// environment, argv and cwd to $CAPTURE_OUT/executor-env-<pid>.json.
import { randomUUID } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';

const protocol = await import(new URL('../../../protocol/dist/index.js', import.meta.url).href);
const { executorCall, executorEvent, RecordIODecoder } = protocol;

const env = process.env;
const out = env.CAPTURE_OUT;
const log = (entry) => {
  if (out) appendFileSync(`${out}/executor-${process.pid}.jsonl`, `${JSON.stringify(entry)}\n`);
};
if (out) {
  writeFileSync(
    `${out}/executor-env-${process.pid}.json`,
    JSON.stringify({ argv: process.argv, cwd: process.cwd(), env }),
  );
}

const protobuf = process.argv.includes('--protobuf');
const encoding = protobuf ? 'protobuf' : 'json';
const mediaType = protobuf ? 'application/x-protobuf' : 'application/json';
const url = `http://${env.MESOS_AGENT_ENDPOINT}/api/v1/executor`;
const ids = {
  executor_id: { value: env.MESOS_EXECUTOR_ID },
  framework_id: { value: env.MESOS_FRAMEWORK_ID },
};
const uuid = () => Uint8Array.from(Buffer.from(randomUUID().replaceAll('-', ''), 'hex'));
const now = () => Math.round(Date.now()) / 1000;

const post = (name, call) =>
  new Promise((resolve) => {
    const body = executorCall.encode({ ...ids, ...call }, encoding);
    const req = http.request(url, { method: 'POST', headers: { 'Content-Type': mediaType } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        log({
          kind: 'response',
          name,
          status: res.statusCode,
          contentType: res.headers['content-type'] ?? null,
          body: Buffer.concat(chunks).toString(),
        });
        resolve(res.statusCode);
      });
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });

const modes = new Map();
const live = new Set();
const afterAck = new Map();
let stubborn = false;

const update = (taskId, state, extra = {}) => {
  const id = uuid();
  if (state !== 'TASK_RUNNING' && state !== 'TASK_STARTING') live.delete(taskId);
  const p = post(`update-${taskId}-${state}`, {
    type: 'UPDATE',
    update: {
      status: {
        task_id: { value: taskId },
        state,
        source: 'SOURCE_EXECUTOR',
        uuid: id,
        timestamp: now(),
        ...extra,
      },
    },
  });
  return { id, done: p };
};
const later = (ms) => new Promise((r) => setTimeout(r, ms));

async function onEvent(event, stream) {
  switch (event.type) {
    case 'LAUNCH': {
      const task = event.launch.task;
      const id = task.task_id.value;
      const mode = task.data ? (JSON.parse(Buffer.from(task.data).toString()).mode ?? 'finish') : 'finish';
      modes.set(id, mode);
      live.add(id);
      if (mode === 'stubborn') stubborn = true;
      if (protobuf) return protobufFlow(id);
      const running = update(id, 'TASK_RUNNING', {
        message: 'executor says running',
        data: Buffer.from(`running-data for ${id}`),
      });
      await running.done;
      const key = Buffer.from(running.id).toString('hex');
      if (mode === 'finish') {
        await later(50);
        await update(id, 'TASK_FINISHED', {
          message: 'executor says finished',
          data: Uint8Array.of(0, 1, 2, 0xfe, 0xff, 0x68, 0x69),
        }).done;
      }
      if (mode === 'msg')
        await post('message-to-scheduler', {
          type: 'MESSAGE',
          message: { data: Buffer.from('hello from executor') },
        });
      if (mode === 'crash') afterAck.set(key, () => process.exit(1));
      if (mode === 'exit0') afterAck.set(key, () => process.exit(0));
      if (mode === 'resub') afterAck.set(key, () => resubscribe(id));
      break;
    }
    case 'LAUNCH_GROUP': {
      const tasks = event.launch_group.task_group.tasks ?? [];
      for (const t of tasks) live.add(t.task_id.value);
      for (const t of tasks)
        await update(t.task_id.value, 'TASK_RUNNING', { message: 'group task running' }).done;
      await later(50);
      for (const t of tasks)
        await update(t.task_id.value, 'TASK_FINISHED', { message: 'group task finished' }).done;
      break;
    }
    case 'ACKNOWLEDGED': {
      const key = Buffer.from(event.acknowledged.uuid).toString('hex');
      const then = afterAck.get(key);
      afterAck.delete(key);
      then?.();
      break;
    }
    case 'KILL': {
      const id = event.kill.task_id.value;
      if (modes.get(id) === 'stubborn') break;
      await update(id, 'TASK_KILLED', { message: 'executor killed task on KILL event' }).done;
      break;
    }
    case 'MESSAGE':
      await post('message-reply', {
        type: 'MESSAGE',
        message: { data: Buffer.from(`pong: ${Buffer.from(event.message.data).toString()}`) },
      });
      break;
    case 'SHUTDOWN':
      if (stubborn) break;
      for (const id of [...live])
        await update(id, 'TASK_KILLED', { message: 'executor killed task on SHUTDOWN event' }).done;
      setTimeout(() => process.exit(0), 20);
      break;
    default:
      break;
  }
  void stream;
}

/** Capture 18: the calls capture-executor-pb.js made, in its order. */
async function protobufFlow(id) {
  const status = (state, extra) => ({
    type: 'UPDATE',
    update: { status: { task_id: { value: id }, state, uuid: uuid(), timestamp: now(), ...extra } },
  });
  await post('update-RUNNING-with-SOURCE_AGENT-rejected', status('TASK_RUNNING', { source: 'SOURCE_AGENT' }));
  await post('update-RUNNING-protobuf', status('TASK_RUNNING', { source: 'SOURCE_EXECUTOR' }));
  await post('message-to-scheduler-protobuf', {
    type: 'MESSAGE',
    message: { data: Uint8Array.of(0xde, 0xad, 0xbe, 0xef) },
  });
  await post(
    'update-FINISHED-with-data-protobuf',
    status('TASK_FINISHED', {
      source: 'SOURCE_EXECUTOR',
      data: Uint8Array.of(0, 1, 2, 0xff),
      message: 'pb executor finished',
    }),
  );
  await post('update-bad-uuid-protobuf', {
    type: 'UPDATE',
    update: {
      status: {
        task_id: { value: id },
        state: 'TASK_RUNNING',
        source: 'SOURCE_EXECUTOR',
        uuid: Buffer.from('abc'),
      },
    },
  });
  await post('heartbeat-protobuf', { type: 'HEARTBEAT' });
  live.delete(id);
}

let streams = 0;
function subscribe(subscribeBody, onSubscribed) {
  const n = ++streams;
  const body = executorCall.encode({ ...ids, type: 'SUBSCRIBE', subscribe: subscribeBody }, encoding);
  const req = http.request(
    url,
    { method: 'POST', headers: { 'Content-Type': mediaType, Accept: mediaType } },
    (res) => {
      log({ kind: 'subscribe', stream: n, status: res.statusCode, headers: res.headers });
      if (res.statusCode !== 200) process.exit(2);
      const decoder = new RecordIODecoder();
      let chain = Promise.resolve();
      res.on('data', (chunk) => {
        for (const record of decoder.push(chunk)) {
          log({ kind: 'event', stream: n, record: Buffer.from(record).toString('base64') });
          const event = executorEvent.decode(record, encoding);
          if (event.type === 'SUBSCRIBED') onSubscribed?.();
          chain = chain.then(() => onEvent(event, n));
        }
      });
      res.on('end', () => log({ kind: 'end', stream: n }));
      res.on('error', () => {});
    },
  );
  req.on('error', () => process.exit(3));
  req.end(body);
}

function resubscribe(id) {
  subscribe({ unacknowledged_tasks: [], unacknowledged_updates: [] }, () => {
    update(id, 'TASK_FINISHED', { message: 'finished after resubscribe' });
  });
}

if (env.CAPTURE_PRE === '1') {
  await post('update-before-subscribe', {
    type: 'UPDATE',
    update: {
      status: {
        task_id: { value: 'pre-task' },
        state: 'TASK_RUNNING',
        source: 'SOURCE_EXECUTOR',
        uuid: uuid(),
      },
    },
  });
  await post('message-before-subscribe', { type: 'MESSAGE', message: { data: Buffer.from('early') } });
}
subscribe({});
