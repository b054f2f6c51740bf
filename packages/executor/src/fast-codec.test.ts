import { codecFor, executorCall, executorEvent, type TaskInfo, type TaskStatus } from '@mesoskit/protocol';
import { describe, expect, it } from 'vitest';
import {
  decodeAcknowledged,
  decodeAcknowledgedJson,
  decodeLaunch,
  JsonUpdateEncoder,
  UpdateEncoder,
} from './fast-codec.js';

const uuid = Uint8Array.from({ length: 16 }, (_, i) => (i * 37 + 11) & 0xff);
const ids = { executor_id: { value: 'mesoskit-exec' }, framework_id: { value: 'fw-0001' } };

function status(extra: Partial<TaskStatus> = {}): TaskStatus {
  return {
    task_id: { value: 't-1' },
    state: 'TASK_RUNNING',
    source: 'SOURCE_EXECUTOR',
    executor_id: { value: 'mesoskit-exec' },
    timestamp: 1795255356.123456,
    uuid,
    ...extra,
  };
}

describe('UpdateEncoder', () => {
  const encoder = new UpdateEncoder('mesoskit-exec', 'fw-0001');
  const cases: [string, TaskStatus][] = [
    ['TASK_RUNNING', status()],
    ['TASK_KILLING', status({ state: 'TASK_KILLING' })],
    [
      'TASK_FINISHED with data and message',
      status({ state: 'TASK_FINISHED', message: 'Task finished', data: Uint8Array.of(0x82, 0xa1, 0x76, 1) }),
    ],
    [
      'TASK_FAILED with a reason and a long message',
      status({ state: 'TASK_FAILED', reason: 'REASON_TASK_INVALID', message: 'é'.repeat(300) }),
    ],
    [
      'TASK_KILLED with 20 KB of data and a non-ASCII task id',
      status({
        state: 'TASK_KILLED',
        task_id: { value: `tâche-ü-${'x'.repeat(200)}` },
        data: new Uint8Array(20_000).fill(7),
      }),
    ],
  ];
  for (const [name, s] of cases) {
    it(`writes the same bytes as the general codec: ${name}`, () => {
      const fast = encoder.encode(s);
      expect(fast).toBeDefined();
      const general = executorCall.encode({ ...ids, type: 'UPDATE', update: { status: s } }, 'protobuf');
      expect(Buffer.from(fast!).equals(Buffer.from(general))).toBe(true);
    });
  }

  it('writes a whole HTTP request after a given head', () => {
    const head = Buffer.from('POST /api/v1/executor HTTP/1.1\r\nHost: x\r\nContent-Length: ', 'latin1');
    const s = status({ state: 'TASK_FINISHED', data: new Uint8Array(300).fill(1) });
    const request = encoder.encode(s, head)!;
    const body = encoder.encode(s)!;
    expect(request.toString('latin1')).toBe(
      `${head.toString('latin1')}${body.length}\r\n\r\n${body.toString('latin1')}`,
    );
  });

  it('leaves anything else to the general codec', () => {
    expect(encoder.encode(status({ state: 'TASK_LOST' }))).toBeUndefined();
    expect(encoder.encode(status({ reason: 'REASON_EXECUTOR_TERMINATED' }))).toBeUndefined();
    expect(encoder.encode(status({ healthy: true }))).toBeUndefined();
    expect(encoder.encode(status({ executor_id: { value: 'other' } }))).toBeUndefined();
    expect(encoder.encode(status({ uuid: new Uint8Array(4) }))).toBeUndefined();
  });
});

describe('decodeAcknowledged', () => {
  it('reads what the general codec writes', () => {
    for (const taskId of ['t', 'tâche-1', 'y'.repeat(300)]) {
      const event = { type: 'ACKNOWLEDGED' as const, acknowledged: { task_id: { value: taskId }, uuid } };
      const bytes = executorEvent.encode(event, 'protobuf');
      expect(decodeAcknowledged(bytes)).toEqual(executorEvent.decode(bytes, 'protobuf'));
    }
  });

  it('returns undefined for other events and for any deviation', () => {
    const other = executorEvent.encode({ type: 'HEARTBEAT' }, 'protobuf');
    expect(decodeAcknowledged(other)).toBeUndefined();
    const ack = executorEvent.encode(
      { type: 'ACKNOWLEDGED', acknowledged: { task_id: { value: 't' }, uuid } },
      'protobuf',
    );
    for (let cut = 0; cut < ack.length; cut++)
      expect(decodeAcknowledged(ack.subarray(0, cut))).toBeUndefined();
    const extra = Uint8Array.from([...ack, 0x20, 0x01]);
    expect(decodeAcknowledged(extra)).toBeUndefined();
    const shortUuid = executorEvent.encode(
      { type: 'ACKNOWLEDGED', acknowledged: { task_id: { value: 't' }, uuid: uuid.subarray(0, 8) } },
      'protobuf',
    );
    expect(decodeAcknowledged(shortUuid)).toBeUndefined();
  });
});

describe('decodeLaunch', () => {
  const base: TaskInfo = {
    name: 'task t-1',
    task_id: { value: 't-1' },
    agent_id: { value: 'agent-S0' },
    resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 0.1 } }],
    executor: {
      executor_id: { value: 'mesoskit-exec' },
      framework_id: { value: 'fw-0001' },
      command: { value: 'mesoskit-executor --handlers ./h.mjs' },
    },
  };
  const launch = (task: TaskInfo) => executorEvent.encode({ type: 'LAUNCH', launch: { task } }, 'protobuf');

  const cases: [string, TaskInfo][] = [
    ['no data, no kill policy', base],
    [
      'data and a kill policy',
      {
        ...base,
        data: Uint8Array.of(1, 2, 3),
        kill_policy: { grace_period: { nanoseconds: 3_000_000_000 } },
      },
    ],
    [
      'an empty kill policy and 20 KB of data',
      { ...base, kill_policy: {}, data: new Uint8Array(20_000).fill(9) },
    ],
    [
      'a non-ASCII task id and labels',
      { ...base, task_id: { value: 'tâche-🦀' }, labels: { labels: [{ key: 'k', value: 'v' }] } },
    ],
  ];
  for (const [name, task] of cases) {
    it(`reads task_id, data and kill_policy like the general codec: ${name}`, () => {
      const bytes = launch(task);
      const general = executorEvent.decode(bytes, 'protobuf').launch!.task;
      const fast = decodeLaunch(bytes)!;
      expect(fast).toBeDefined();
      expect(fast.taskId).toBe(general.task_id.value);
      expect(fast.data).toEqual(general.data);
      expect(fast.killGraceNs).toBe(
        general.kill_policy?.grace_period === undefined
          ? undefined
          : Number(general.kill_policy.grace_period.nanoseconds),
      );
      expect(codecFor<TaskInfo>('mesos.v1.TaskInfo').fromProtobuf(fast.taskInfo)).toEqual(general);
    });
  }

  it('copies what it keeps: the input (a reused read buffer) may be overwritten afterwards', () => {
    const task = { ...base, data: Uint8Array.of(1, 2, 3) };
    const bytes = Buffer.from(launch(task));
    const fast = decodeLaunch(bytes)!;
    const ack = decodeAcknowledged(
      Buffer.from(
        executorEvent.encode(
          { type: 'ACKNOWLEDGED', acknowledged: { task_id: { value: 't' }, uuid } },
          'protobuf',
        ),
      ),
    )!;
    bytes.fill(0);
    expect(fast.data).toEqual(Uint8Array.of(1, 2, 3));
    expect(codecFor<TaskInfo>('mesos.v1.TaskInfo').fromProtobuf(fast.taskInfo)).toEqual(task);
    expect(ack.acknowledged!.uuid).toEqual(uuid);
  });

  it('leaves other events and unexpected TaskInfos to the general codec', () => {
    expect(decodeLaunch(executorEvent.encode({ type: 'HEARTBEAT' }, 'protobuf'))).toBeUndefined();
    expect(
      decodeLaunch(
        executorEvent.encode(
          { type: 'LAUNCH_GROUP', launch_group: { task_group: { tasks: [base] } } },
          'protobuf',
        ),
      ),
    ).toBeUndefined();
    const negative = launch({ ...base, kill_policy: { grace_period: { nanoseconds: -1 } } });
    expect(decodeLaunch(negative)).toBeUndefined();
    const full = launch({ ...base, data: Uint8Array.of(1) });
    for (let cut = 0; cut < full.length; cut++) expect(decodeLaunch(full.subarray(0, cut))).toBeUndefined();
    // A TaskInfo without its required agent_id (name "x", task_id "t"): the general codec reports it.
    const noAgent = [0x0a, 1, 0x78, 0x12, 3, 0x0a, 1, 0x74];
    const event = Uint8Array.from([0x08, 0x02, 0x22, ...lenPrefixed([0x0a, ...lenPrefixed(noAgent)])]);
    expect(() => executorEvent.decode(event, 'protobuf')).toThrow(/agent_id/);
    expect(decodeLaunch(event)).toBeUndefined();
  });
});

function lenPrefixed(bytes: number[]): number[] {
  const out: number[] = [];
  let n = bytes.length;
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return [...out, ...bytes];
}

describe('JsonUpdateEncoder', () => {
  const encoder = new JsonUpdateEncoder('mesoskit-exec', 'fw-0001');
  const cases: [string, TaskStatus][] = [
    ['TASK_RUNNING', status()],
    [
      'TASK_FINISHED with data',
      status({ state: 'TASK_FINISHED', message: 'Task finished', data: Uint8Array.of(1, 2, 250) }),
    ],
    [
      'TASK_FAILED with a reason and an awkward message',
      status({ state: 'TASK_FAILED', reason: 'REASON_TASK_INVALID', message: 'a "quote"\n\u2028 é 🦀' }),
    ],
  ];
  for (const [name, s] of cases) {
    it(`writes the same JSON as the general codec: ${name}`, () => {
      const general = executorCall.encode({ ...ids, type: 'UPDATE', update: { status: s } }, 'json');
      expect(encoder.encode(s)!.toString()).toBe(Buffer.from(general).toString());
    });
  }

  it('leaves anything else to the general codec', () => {
    expect(encoder.encode(status({ state: 'TASK_LOST' }))).toBeUndefined();
    expect(encoder.encode(status({ healthy: false }))).toBeUndefined();
    expect(encoder.encode(status({ timestamp: 1795255356 }))).toBeUndefined(); // written `1795255356.0`
  });
});

describe('decodeAcknowledgedJson', () => {
  it('reads what the general codec writes, and what Mesos sent (capture 04)', () => {
    const event = { type: 'ACKNOWLEDGED' as const, acknowledged: { task_id: { value: 'tâche' }, uuid } };
    const bytes = executorEvent.encode(event, 'json');
    expect(decodeAcknowledgedJson(bytes)).toEqual(executorEvent.decode(bytes, 'json'));
    const mesos = Buffer.from(
      '{"type":"ACKNOWLEDGED","acknowledged":{"task_id":{"value":"e1"},"uuid":"RkVmz7NKR/qHu+oe5rXuhg=="}}',
    );
    expect(decodeAcknowledgedJson(mesos)).toEqual(executorEvent.decode(mesos, 'json'));
  });

  it('returns undefined for other events and malformed ones', () => {
    expect(decodeAcknowledgedJson(Buffer.from('{"type":"HEARTBEAT"}'))).toBeUndefined();
    expect(
      decodeAcknowledgedJson(
        Buffer.from('{"type":"ACKNOWLEDGED","acknowledged":{"task_id":{"value":1},"uuid":"x"}}'),
      ),
    ).toBeUndefined();
    expect(decodeAcknowledgedJson(Buffer.from('{"type":"ACKNOWLEDGED",'))).toBeUndefined();
  });
});
