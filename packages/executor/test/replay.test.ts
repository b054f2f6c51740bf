/**
 * Replays event streams a real Mesos agent sent to a custom executor (test/fixtures/real-mesos)
 * through the fake agent, and checks our executor's calls against the calls the captured
 * executor made: same SUBSCRIBE (byte for byte), the same update states per task with the
 * fields the real agent requires, ACKNOWLEDGED matched to our own uuids.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  defineTask,
  type ExecutorCall,
  type ExecutorEvent,
  encodeLaunchEnvelope,
  executorCall,
  executorEvent,
  type MesosEncoding,
  RecordIODecoder,
  type TaskInfo,
} from '@mesoskit/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { type Executor, handle, handlers, runExecutor } from '../src/index.js';
import { FakeAgent } from './helpers/fake-agent.js';
import { type LogEntry, recordingLogger } from './runtime/setup.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/real-mesos/', import.meta.url));

/** The captured executor's behaviour came from `TaskInfo.data` = JSON `{"mode": …}`; ours from this task. */
const modeTask = defineTask<{ mode: string }, string>('replay.mode');
const replayHandlers = handlers(
  handle(modeTask, async ({ mode }, ctx) => {
    if (mode === 'finish') return 'finished';
    if (mode === 'msg') ctx.send(`hello from ${ctx.taskId}`);
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
    return 'stopped';
  }),
);

interface CapturedCall {
  file: string;
  call: ExecutorCall;
  body: Buffer;
  headers: Record<string, string>;
}

function capturedCalls(folder: string, encoding: MesosEncoding): CapturedCall[] {
  return readdirSync(folder)
    .filter((f) => f.endsWith('.request.json'))
    .sort()
    .map((file) => {
      const req = JSON.parse(readFileSync(join(folder, file), 'utf8')) as {
        headers: [string, string][];
        body_base64: string;
      };
      const body = Buffer.from(req.body_base64, 'base64');
      return {
        file,
        call: executorCall.decode(body, encoding),
        body,
        headers: Object.fromEntries(req.headers.map(([k, v]) => [k.toLowerCase(), v])),
      };
    });
}

function capturedEvents(folder: string, encoding: MesosEncoding): ExecutorEvent[] {
  const file = readdirSync(folder).find((f) => f.endsWith('.stream.bin'))!;
  return new RecordIODecoder()
    .push(readFileSync(join(folder, file)))
    .map((record) => executorEvent.decode(record, encoding));
}

/** Swaps the captured JSON `{"mode": …}` for a launch envelope carrying the same mode. */
function withEnvelope(task: TaskInfo): TaskInfo {
  const mode = task.data
    ? (JSON.parse(Buffer.from(task.data).toString()) as { mode?: string }).mode
    : undefined;
  return {
    ...task,
    data: encodeLaunchEnvelope({
      task: modeTask.name,
      taskVersion: 1,
      attempt: 1,
      input: { mode: mode ?? 'finish' },
    }),
  };
}

const hex = (u: Uint8Array | undefined) => Buffer.from(u ?? []).toString('hex');

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function replay(name: string, encoding: MesosEncoding) {
  const folder = join(FIXTURES, name);
  const captured = capturedCalls(folder, encoding);
  const events = capturedEvents(folder, encoding);
  const subscribe = captured[0]!;
  expect(subscribe.call.type).toBe('SUBSCRIBE');
  let capturedEnv: Record<string, string> = {};
  try {
    capturedEnv = JSON.parse(readFileSync(join(folder, 'executor-env.json'), 'utf8')).env;
  } catch {
    // 18 has no environment dump: the ids come from its SUBSCRIBE
  }

  const agent = await FakeAgent.start({ autoSubscribed: false, autoAck: false });
  const logs: LogEntry[] = [];
  const starting = runExecutor({
    handlers: replayHandlers,
    encoding,
    runningUpdateDelayMs: 0, // the captured executor sent TASK_RUNNING for every task
    logger: recordingLogger(logs),
    env: {
      ...capturedEnv,
      MESOS_FRAMEWORK_ID: subscribe.call.framework_id.value,
      MESOS_EXECUTOR_ID: subscribe.call.executor_id.value,
      MESOS_AGENT_ENDPOINT: `127.0.0.1:${agent.port}`,
    },
  });
  let executor: Executor | undefined;
  cleanup = async () => {
    await (executor ?? (await starting.catch(() => undefined)))?.stop();
    await agent.close();
  };

  // The captured uuid of each update → the (task, state) it was for.
  const byUuid = new Map<string, { task: string; state: string }>();
  for (const c of captured) {
    const s = c.call.update?.status;
    if (s) byUuid.set(hex(s.uuid), { task: s.task_id.value, state: s.state });
  }

  await agent.waitForCall('SUBSCRIBE', (c) => c.type === 'SUBSCRIBE');
  for (const event of events) {
    switch (event.type) {
      case 'SUBSCRIBED':
        agent.send(event);
        executor = await starting;
        break;
      case 'LAUNCH':
        agent.send({ ...event, launch: { task: withEnvelope(event.launch!.task) } });
        break;
      case 'LAUNCH_GROUP':
        agent.send({
          ...event,
          launch_group: { task_group: { tasks: event.launch_group!.task_group.tasks!.map(withEnvelope) } },
        });
        break;
      case 'ACKNOWLEDGED': {
        // Acknowledge *our* update for the same task and state as the captured one.
        const target = byUuid.get(hex(event.acknowledged!.uuid));
        expect(target, 'ACKNOWLEDGED for an update that is not in the capture').toBeDefined();
        const ours = await agent.waitForUpdate(target!.task, target!.state as never);
        agent.send({
          type: 'ACKNOWLEDGED',
          acknowledged: { task_id: event.acknowledged!.task_id, uuid: ours.uuid! },
        });
        // Our TASK_KILLING (the captured executor sent none) is acknowledged with the kill's end.
        if (target!.state === 'TASK_KILLED') {
          const killing = agent.calls.find(
            (c) =>
              c.call.update?.status.task_id.value === target!.task &&
              c.call.update.status.state === 'TASK_KILLING',
          );
          if (killing) agent.ack(killing.call.update!.status);
        }
        break;
      }
      case 'SHUTDOWN':
        agent.autoAck = true; // the agent keeps acknowledging while the executor winds down
        agent.send(event);
        break;
      default:
        agent.send(event); // MESSAGE, KILL, HEARTBEAT: verbatim
    }
  }
  const exit = await executor!.closed();
  return { agent, captured, exit, logs, executor: executor! };
}

function statesByTask(calls: ExecutorCall[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const c of calls) {
    const s = c.update?.status;
    if (c.type !== 'UPDATE' || !s) continue;
    const list = out[s.task_id.value] ?? [];
    list.push(s.state);
    out[s.task_id.value] = list;
  }
  return out;
}

function expectSameCalls(
  ours: FakeAgent,
  captured: CapturedCall[],
  states = statesByTask(captured.map((c) => c.call)),
) {
  // SUBSCRIBE: the same call (protobuf: byte for byte; JSON: the same value, key order aside),
  // with the same media types.
  const sub = ours.calls[0]!;
  if (sub.headers['content-type'] === 'application/x-protobuf')
    expect(sub.body.equals(captured[0]!.body)).toBe(true);
  else expect(JSON.parse(sub.body.toString())).toEqual(JSON.parse(captured[0]!.body.toString()));
  expect(sub.headers['content-type']).toBe(captured[0]!.headers['content-type']);
  expect(sub.headers.accept).toBe(captured[0]!.headers.accept);
  // The same states per task, in the same order.
  expect(statesByTask(ours.calls.map((c) => c.call))).toEqual(states);
  // Every update carries what the real agent requires (§3.2.2) and the captured ids.
  const ids = { framework_id: captured[0]!.call.framework_id, executor_id: captured[0]!.call.executor_id };
  for (const { call, headers, path } of ours.calls.slice(1)) {
    expect(call).toMatchObject(ids);
    expect(path).toBe('/api/v1/executor');
    expect(headers['content-type']).toBe(captured[0]!.headers['content-type']);
    if (call.type !== 'UPDATE') continue;
    const s = call.update!.status;
    expect(s.source).toBe('SOURCE_EXECUTOR');
    expect(s.uuid).toHaveLength(16);
    expect(s.agent_id).toBeUndefined();
    expect(typeof s.timestamp).toBe('number');
    expect(s.executor_id).toEqual(ids.executor_id);
  }
}

describe('replaying the real agent', () => {
  it('04 custom executor (JSON): three tasks, a scheduler MESSAGE, KILL, SHUTDOWN', async () => {
    const { agent, captured, exit, logs } = await replay('04-custom-executor', 'json');
    expect(exit).toEqual({ reason: 'shutdown', exitCode: 0 });
    expectSameCalls(agent, captured);
    expect(statesByTask(agent.calls.map((c) => c.call))).toEqual({
      e1: ['TASK_RUNNING', 'TASK_FINISHED'],
      e2: ['TASK_RUNNING', 'TASK_KILLED'],
      e3: ['TASK_RUNNING', 'TASK_KILLED'],
    });
    // e3 ("msg") sent a framework message, as the captured executor did.
    const message = agent.calls.find((c) => c.call.type === 'MESSAGE')!;
    const capturedMessage = captured.find((c) => c.file.startsWith('07-message'))!;
    expect(Object.keys(message.call).sort()).toEqual(Object.keys(capturedMessage.call).sort());
    // The scheduler's raw MESSAGE ("hello from scheduler") is not an envelope: dropped, logged, harmless.
    expect(
      logs.some((l) => l.message === 'dropped a framework message that is not a mesoskit message envelope'),
    ).toBe(true);
  });

  it('15 LAUNCH_GROUP and a KILL with a kill_policy (JSON), to a TASK_KILLING_STATE framework', async () => {
    const { agent, captured, exit } = await replay('15-launch-group-kill-policy', 'json');
    expect(exit.reason).toBe('shutdown');
    // The framework has TASK_KILLING_STATE, so unlike the captured executor we send TASK_KILLING
    // before TASK_KILLED, as Mesos' own executors do for it (capture 15, command task k1).
    const expected = statesByTask(captured.map((c) => c.call));
    expect(expected.kp1).toEqual(['TASK_RUNNING', 'TASK_KILLED']);
    expectSameCalls(agent, captured, { ...expected, kp1: ['TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED'] });
  });

  it('18 the executor API in protobuf', async () => {
    const { agent, captured, exit } = await replay('18-executor-protobuf', 'protobuf');
    expect(exit.reason).toBe('shutdown');
    expectSameCalls(agent, captured);
    // Our RUNNING update has the same protobuf fields as the captured one (values differ: uuid, time).
    const ours = agent.calls.find((c) => c.call.update?.status.state === 'TASK_RUNNING')!.call.update!.status;
    const theirs = captured.find((c) => c.file.startsWith('03-'))!.call.update!.status;
    expect(Object.keys(ours)).toEqual(expect.arrayContaining(Object.keys(theirs)));
  });
});
