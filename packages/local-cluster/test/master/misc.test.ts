import { parseResources } from '@mesoskit/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalMaster } from '../../src/master/index.js';
import { commandTask, FakeAgent, frameworkInfo, rawRequest, session, startMaster } from './helpers.js';

let master: LocalMaster | undefined;
afterEach(async () => {
  await master?.stop();
  master = undefined;
});

describe('offer validation across offers', () => {
  it('offers of two agents cannot be aggregated', async () => {
    master = await startMaster();
    const a1 = await FakeAgent.register(master);
    await FakeAgent.register(master);
    const s = await session(master.url);
    const offers = await s.stream.offers();
    expect(offers).toHaveLength(2);
    const ids = offers.map((o) => o.id.value);
    await s.accept(ids, [{ type: 'LAUNCH', launch: { task_infos: [commandTask('t', a1.agentId)] } }]);
    expect((await s.stream.update('t')).message).toBe(
      `Task launched with invalid offers: Aggregated offers must belong to one single agent. Offer ${ids[1]} uses agent ${offers[1]!.agent_id.value} and agent ${offers[0]!.agent_id.value}`,
    );
    // both offers are gone: using one of them again fails
    await s.launch(ids[0]!, [commandTask('t2', a1.agentId)]);
    expect((await s.stream.update('t2')).state).toBe('TASK_LOST');
    s.stream.close();
  });

  it('a duplicate offer id is refused; an empty ACCEPT declines with the filter', async () => {
    master = await startMaster();
    const agent = await FakeAgent.register(master);
    const s = await session(master.url);
    let [offer] = await s.stream.offers();
    const id = offer!.id.value;
    await s.accept([id, id], [{ type: 'LAUNCH', launch: { task_infos: [commandTask('d', agent.agentId)] } }]);
    expect((await s.stream.update('d')).message).toBe(
      `Task launched with invalid offers: Duplicate offer ${id} in offer list`,
    );
    [offer] = await s.stream.offers();
    const t0 = Date.now();
    await s.accept([offer!.id.value], [], { refuse_seconds: 0.2 });
    await s.stream.offers();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    s.stream.close();
  });
});

describe('operations', () => {
  it('unsupported operations with an id get OPERATION_ERROR; RECONCILE_OPERATIONS answers OPERATION_UNKNOWN', async () => {
    master = await startMaster();
    const agent = await FakeAgent.register(master);
    const s = await session(master.url);
    const [offer] = await s.stream.offers();
    await s.accept(
      [offer!.id.value],
      [{ type: 'RESERVE', id: { value: 'op1' }, reserve: { resources: parseResources('cpus(eng):1') } }],
    );
    const update = await s.stream.next('UPDATE_OPERATION_STATUS');
    expect(update.update_operation_status?.status).toMatchObject({
      operation_id: { value: 'op1' },
      state: 'OPERATION_ERROR',
      agent_id: { value: agent.agentId },
    });
    const r = await s.call({
      type: 'RECONCILE_OPERATIONS',
      reconcile_operations: {
        operations: [{ operation_id: { value: 'op2' }, agent_id: { value: agent.agentId } }],
      },
    });
    expect(r.status).toBe(202);
    const answer = await s.stream.next('UPDATE_OPERATION_STATUS');
    expect(answer.update_operation_status?.status).toEqual({
      operation_id: { value: 'op2' },
      state: 'OPERATION_UNKNOWN',
      agent_id: { value: agent.agentId },
    });
    const notAcceptable = await rawRequest(master.url, {
      headers: {
        'Content-Type': 'application/json',
        Accept: 'text/html',
        'Mesos-Stream-Id': s.stream.streamId,
      },
      body: JSON.stringify({
        framework_id: { value: s.frameworkId },
        type: 'RECONCILE_OPERATIONS',
        reconcile_operations: {},
      }),
    });
    expect(notAcceptable.status).toBe(406);
    s.stream.close();
  });
});

describe('teardown frees everything', () => {
  it('a second framework gets the whole agent after the first is torn down', async () => {
    master = await startMaster();
    const agent = await FakeAgent.register(master);
    const a = await session(master.url, frameworkInfo({ name: 'a' }));
    const [offer] = await a.stream.offers();
    await a.launch(offer!.id.value, [
      {
        ...commandTask('t', agent.agentId, 'cpus:1;mem:1024'),
        command: undefined,
        executor: {
          executor_id: { value: 'e' },
          command: { value: 'x' },
          resources: parseResources('cpus:0.5;mem:64'),
        },
      } as never,
    ]);
    await agent.waitFor('runTask');
    const b = await session(master.url, frameworkInfo({ name: 'b' }));
    const [partial] = await b.stream.offers();
    expect(partial!.resources!.find((r) => r.name === 'cpus')?.scalar?.value).toBe(0.5);
    await b.decline([partial!.id.value], { refuse_seconds: 60 });
    await a.call({ type: 'TEARDOWN' });
    await a.stream.end();
    const next = await b.stream.next(
      (e) =>
        e.type === 'OFFERS' &&
        e.offers?.offers?.[0]?.resources?.find((r) => r.name === 'cpus')?.scalar?.value === 2,
    );
    expect(next.offers?.offers?.[0]?.executor_ids).toBeUndefined();
    b.stream.close();
  });

  it('SUBSCRIBED reports the configured heartbeat interval', async () => {
    master = await startMaster({ heartbeatIntervalMs: 2000 });
    const s = await session(master.url);
    expect(s.stream.events[0]?.subscribed?.heartbeat_interval_seconds).toBe(2);
    s.stream.close();
  });
});

describe('protobuf end to end', () => {
  it('subscribe, ACCEPT and a TASK_ERROR in protobuf', async () => {
    master = await startMaster();
    const agent = await FakeAgent.register(master);
    const s = await session(master.url, frameworkInfo(), { encoding: 'protobuf' });
    const [offer] = await s.stream.offers();
    const good = commandTask('pb1', agent.agentId);
    const r = await s.call(
      {
        type: 'ACCEPT',
        accept: {
          offer_ids: [offer!.id],
          operations: [
            { type: 'LAUNCH', launch: { task_infos: [good, commandTask('pb/bad', agent.agentId)] } },
          ],
        },
      },
      'protobuf',
    );
    expect(r.status).toBe(202);
    expect((await agent.waitFor('runTask')).request.task?.task_id.value).toBe('pb1');
    expect((await s.stream.update('pb/bad')).message).toBe("'pb/bad' contains invalid characters");
    s.stream.close();
  });
});

describe('agents coming and going', () => {
  it('a KILL for a task on a gone agent is delivered when it registers again, with the frameworks', async () => {
    master = await startMaster();
    const agent = await FakeAgent.register(master);
    // A checkpointing framework: its tasks outlive the agent's disconnection.
    const s = await session(master.url, frameworkInfo({ checkpoint: true }));
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [commandTask('k', agent.agentId)]);
    master.agentGone(agent.agentId);
    await s.call({ type: 'KILL', kill: { task_id: { value: 'k' } } });
    expect(agent.calls.some((c) => c.kind === 'killTask')).toBe(false);
    const again = new FakeAgent();
    const registered = await master.registerAgent(
      {
        agentId: agent.agentId,
        hostname: 'localhost',
        ip: '127.0.0.1',
        port: 5051,
        resources: parseResources('cpus:2;mem:2048'),
      },
      again,
    );
    expect(registered.agentId).toBe(agent.agentId);
    expect(await again.waitFor('updateFramework')).toMatchObject({
      framework: { id: { value: s.frameworkId } },
    });
    expect(await again.waitFor('killTask')).toMatchObject({ frameworkId: s.frameworkId, taskId: 'k' });
    s.stream.close();
  });
});

describe('agent disconnection, partition and master failover', () => {
  it('a disconnected agent loses the tasks of frameworks without checkpoint (TASK_LOST, no uuid)', async () => {
    master = await startMaster();
    const agent = await FakeAgent.register(master);
    const s = await session(master.url, frameworkInfo({ capabilities: [{ type: 'PARTITION_AWARE' }] }));
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [commandTask('nc', agent.agentId)]);
    await agent.waitFor('runTask');
    master.agentGone(agent.agentId);
    const lost = await s.stream.update('nc');
    expect(lost).toMatchObject({
      state: 'TASK_LOST',
      source: 'SOURCE_MASTER',
      reason: 'REASON_AGENT_DISCONNECTED',
      agent_id: { value: agent.agentId },
    });
    expect(lost.uuid).toBeUndefined();
    s.stream.close();
  });

  it('an agent that stops answering pings becomes unreachable: TASK_UNREACHABLE / TASK_LOST; back: REASON_AGENT_REREGISTERED', async () => {
    master = await startMaster({ agentPingTimeoutMs: 30, maxAgentPingTimeouts: 3 });
    const agent = await FakeAgent.register(master); // never answers pings
    const aware = await session(
      master.url,
      frameworkInfo({ name: 'aware', capabilities: [{ type: 'PARTITION_AWARE' }] }),
    );
    const [o1] = await aware.stream.offers();
    await aware.launch(o1!.id.value, [commandTask('pa', agent.agentId, 'cpus:0.5;mem:64')]);
    const plain = await session(master.url, frameworkInfo({ name: 'plain', checkpoint: true }));
    const [o2] = await plain.stream.offers();
    await plain.launch(o2!.id.value, [commandTask('np', agent.agentId, 'cpus:0.5;mem:64')]);

    const unreachable = await aware.stream.update('pa', 5000);
    expect(unreachable).toMatchObject({
      state: 'TASK_UNREACHABLE',
      source: 'SOURCE_MASTER',
      reason: 'REASON_AGENT_REMOVED',
    });
    expect(unreachable.unreachable_time).toBeDefined();
    expect(unreachable.uuid).toBeUndefined();
    expect(await plain.stream.update('np', 5000)).toMatchObject({
      state: 'TASK_LOST',
      reason: 'REASON_AGENT_REMOVED',
    });
    type State = {
      slaves: unknown[];
      unreachable_slaves: number;
      frameworks: { name: string; tasks: unknown[]; unreachable_tasks: { id: string; state: string }[] }[];
    };
    const state = (await (await fetch(`${master.url}/master/state`)).json()) as State;
    expect(state.slaves).toEqual([]);
    expect(state.unreachable_slaves).toBe(1);
    const awareState = state.frameworks.find((f) => f.name === 'aware')!;
    expect(awareState.tasks).toEqual([]);
    expect(awareState.unreachable_tasks).toEqual([
      expect.objectContaining({ id: 'pa', state: 'TASK_UNREACHABLE' }),
    ]);

    // The agent comes back with both tasks running.
    const running = (taskId: string, frameworkId: string) => ({
      frameworkId,
      info: { ...commandTask(taskId, agent.agentId), resources: parseResources('cpus:0.5;mem:64') },
      state: 'TASK_RUNNING' as const,
    });
    await master.registerAgent(
      {
        agentId: agent.agentId,
        hostname: 'localhost',
        ip: '127.0.0.1',
        port: 5051,
        resources: parseResources('cpus:2;mem:2048;disk:4096;ports:[31000-32000]'),
        tasks: [running('pa', aware.frameworkId), running('np', plain.frameworkId)],
      },
      agent,
    );
    for (const [s, id] of [
      [aware, 'pa'],
      [plain, 'np'],
    ] as const) {
      expect(await s.stream.update(id, 5000)).toMatchObject({
        state: 'TASK_RUNNING',
        source: 'SOURCE_MASTER',
        reason: 'REASON_AGENT_REREGISTERED',
      });
    }
    aware.stream.close();
    plain.stream.close();
  });

  it('a framework torn down while its agent was away is shut down on the agent when it re-registers', async () => {
    master = await startMaster();
    const agent = await FakeAgent.register(master);
    const s = await session(master.url, frameworkInfo({ checkpoint: true }));
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [commandTask('td', agent.agentId)]);
    const { request } = await agent.waitFor('runTask');
    master.agentGone(agent.agentId);
    expect((await s.call({ type: 'TEARDOWN' })).status).toBe(202);
    const again = new FakeAgent();
    await master.registerAgent(
      {
        agentId: agent.agentId,
        hostname: 'localhost',
        ip: '127.0.0.1',
        port: 5051,
        resources: parseResources('cpus:2;mem:2048'),
        frameworks: [request.framework],
        tasks: [{ frameworkId: s.frameworkId, info: request.task!, state: 'TASK_RUNNING' }],
      },
      again,
    );
    expect(await again.waitFor('shutdownFramework')).toMatchObject({ frameworkId: s.frameworkId });
  });

  it('an agent that does not re-register within agentReregisterTimeoutMs becomes unreachable', async () => {
    master = await startMaster({ agentReregisterTimeoutMs: 50 });
    const agent = await FakeAgent.register(master);
    const s = await session(
      master.url,
      frameworkInfo({ checkpoint: true, capabilities: [{ type: 'PARTITION_AWARE' }] }),
    );
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [commandTask('rr', agent.agentId)]);
    await agent.waitFor('runTask');
    master.agentGone(agent.agentId);
    expect(await s.stream.update('rr', 5000)).toMatchObject({
      state: 'TASK_UNREACHABLE',
      reason: 'REASON_AGENT_REMOVED',
    });
    s.stream.close();
  });

  it('rejects health-check options that cannot work', async () => {
    await expect(startMaster({ maxAgentPingTimeouts: 0 })).rejects.toThrow(/maxAgentPingTimeouts/);
    await expect(startMaster({ agentPingTimeoutMs: -1 })).rejects.toThrow(/agentPingTimeoutMs/);
  });

  it('after a master restart, a re-registering agent brings its frameworks and tasks back', async () => {
    master = await startMaster();
    const agentId = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-S3';
    const frameworkId = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-0007';
    const info = frameworkInfo({ name: 'survivor', checkpoint: true, id: { value: frameworkId } });
    const agent = new FakeAgent();
    await master.registerAgent(
      {
        agentId,
        hostname: 'localhost',
        ip: '127.0.0.1',
        port: 5051,
        resources: parseResources('cpus:2;mem:2048'),
        frameworks: [info],
        tasks: [
          {
            frameworkId,
            info: { ...commandTask('old', agentId), resources: parseResources('cpus:1;mem:64') },
            state: 'TASK_RUNNING',
          },
        ],
      },
      agent,
    );
    type State = { frameworks: { id: string; recovered: boolean; active: boolean }[] };
    const before = (await (await fetch(`${master.url}/master/state`)).json()) as State;
    expect(before.frameworks).toEqual([
      expect.objectContaining({ id: frameworkId, recovered: true, active: false }),
    ]);
    const s = await session(master.url, info, { frameworkId });
    expect(s.frameworkId).toBe(frameworkId);
    const after = (await (await fetch(`${master.url}/master/state`)).json()) as State;
    expect(after.frameworks).toEqual([
      expect.objectContaining({ id: frameworkId, recovered: false, active: true }),
    ]);
    // The task is known again (explicit reconciliation answers its state) and its resources used.
    await s.call({ type: 'RECONCILE', reconcile: { tasks: [{ task_id: { value: 'old' } }] } });
    expect(await s.stream.update('old')).toMatchObject({
      state: 'TASK_RUNNING',
      reason: 'REASON_RECONCILIATION',
    });
    const [offer] = await s.stream.offers();
    expect((offer!.resources ?? []).find((r) => r.name === 'cpus')?.scalar).toEqual({ value: 1 });
    s.stream.close();
  });
});

describe('stop()', () => {
  it('ends streams and closes the server even with idle keep-alive connections', async () => {
    const m = await startMaster({ heartbeatIntervalMs: 20 });
    const s = await session(m.url);
    await fetch(`${m.url}/health`);
    await m.stop();
    await s.stream.end();
    await expect(fetch(`${m.url}/health`)).rejects.toThrow();
  });
});

describe('leader detection test mode (§1.6)', () => {
  it('redirects with a protocol-relative Location, or answers 503 without a leader', async () => {
    master = await startMaster();
    master.setLeader({ hostname: 'leader.example', port: 5050 });
    let r = await rawRequest(master.url, { method: 'GET', path: '/api/v1/scheduler?x=1' });
    expect([r.status, r.headers.location, r.body]).toEqual([
      307,
      '//leader.example:5050/master/api/v1/scheduler?x=1',
      '',
    ]);
    r = await rawRequest(master.url, { method: 'GET', path: '/master/redirect' });
    expect(r.headers.location).toBe('//leader.example:5050');
    master.setLeader(null);
    r = await rawRequest(master.url, { headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect([r.status, r.body]).toEqual([503, 'No leader elected']);
    master.setLeader(undefined);
    const s = await session(master.url);
    expect(s.stream.status).toBe(200);
    s.stream.close();
  });
});

describe('options', () => {
  it('rejects intervals that cannot work, without doing I/O', async () => {
    const { LocalMaster } = await import('../../src/master/index.js');
    expect(() => new LocalMaster({ heartbeatIntervalMs: 0 })).toThrow(/heartbeatIntervalMs/);
    expect(() => new LocalMaster({ allocationIntervalMs: -1 })).toThrow(/allocationIntervalMs/);
    expect(() => new LocalMaster({ port: 70000 })).toThrow(/port/);
    expect(() => new LocalMaster({}).masterInfo).toThrow(/not started/);
  });
});

describe('fault injection', () => {
  it('dropSubscription cuts the stream; within failover_timeout the framework can come back', async () => {
    master = await startMaster();
    const s = await session(master.url, frameworkInfo({ failover_timeout: 60 }));
    expect(master.dropSubscription(s.frameworkId)).toBe(true);
    await s.stream.end();
    expect(master.dropSubscription(s.frameworkId)).toBe(false);
    const again = await session(master.url, frameworkInfo({ failover_timeout: 60 }), {
      frameworkId: s.frameworkId,
    });
    expect(again.frameworkId).toBe(s.frameworkId);
    again.stream.close();
  });
});
