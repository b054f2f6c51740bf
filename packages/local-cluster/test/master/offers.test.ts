import { parseResources } from '@mesoskit/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalMaster } from '../../src/master/index.js';
import { capturedRecords, commandTask, FakeAgent, frameworkInfo, session, startMaster } from './helpers.js';

let master: LocalMaster | undefined;
afterEach(async () => {
  await master?.stop();
  master = undefined;
});

const MULTI_ROLE = frameworkInfo({ capabilities: [{ type: 'MULTI_ROLE' }], roles: ['*'] });

describe('offers', () => {
  it('have the shape of capture 01 (MULTI_ROLE)', async () => {
    master = await startMaster({ masterId: '6e1a5c42-a3a3-4d76-99e3-86670051a92d' });
    await FakeAgent.register(master);
    const s = await session(master.url, MULTI_ROLE);
    await s.stream.next('OFFERS');
    const expected = capturedRecords('01-scheduler-subscribe-json', '01-subscribe').find((r) =>
      r.startsWith('{"type":"OFFERS"'),
    )!;
    const offersChunk = s.stream.chunks.map((c) => c.toString('utf8')).find((c) => c.includes('"OFFERS"'))!;
    expect(offersChunk).toBe(`${Buffer.byteLength(expected)}\n${expected}`);
    s.stream.close();
  });

  it('without MULTI_ROLE carry role "*" and no allocation_info', async () => {
    master = await startMaster();
    await FakeAgent.register(master);
    const s = await session(master.url);
    const [offer] = await s.stream.offers();
    expect(offer!.allocation_info).toBeUndefined();
    expect(offer!.resources!.map((r) => [r.name, r.role, r.allocation_info])).toEqual([
      ['ports', '*', undefined],
      ['cpus', '*', undefined],
      ['mem', '*', undefined],
      ['disk', '*', undefined],
    ]);
    s.stream.close();
  });

  it('an agent registering later triggers an offer; two agents are spread over two frameworks', async () => {
    master = await startMaster();
    const a = await session(master.url);
    const b = await session(master.url);
    await FakeAgent.register(master);
    await FakeAgent.register(master);
    const offersA = await a.stream.offers();
    const offersB = await b.stream.offers();
    expect(offersA).toHaveLength(1);
    expect(offersB).toHaveLength(1);
    expect(offersA[0]!.agent_id.value).not.toBe(offersB[0]!.agent_id.value);
    a.stream.close();
    b.stream.close();
  });

  it('DECLINE filters the agent for refuse_seconds; 0 means no filter', async () => {
    master = await startMaster();
    await FakeAgent.register(master);
    const s = await session(master.url);
    let [offer] = await s.stream.offers();
    let t0 = Date.now();
    expect((await s.decline([offer!.id.value], { refuse_seconds: 0.3 })).status).toBe(202);
    [offer] = await s.stream.offers(3000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    t0 = Date.now();
    await s.decline([offer!.id.value], { refuse_seconds: 0 });
    [offer] = await s.stream.offers();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(offer!.resources).toHaveLength(4);
    s.stream.close();
  });

  it('SUPPRESS stops offers without rescinding; REVIVE resumes them and clears filters', async () => {
    master = await startMaster();
    await FakeAgent.register(master);
    const s = await session(master.url);
    let [offer] = await s.stream.offers();
    expect((await s.call({ type: 'SUPPRESS', suppress: {} })).status).toBe(202);
    await s.decline([offer!.id.value], { refuse_seconds: 0 });
    await s.stream.none((e) => e.type === 'OFFERS' || e.type === 'RESCIND', 150);
    expect((await s.call({ type: 'REVIVE' })).status).toBe(202);
    [offer] = await s.stream.offers();
    await s.decline([offer!.id.value], { refuse_seconds: 3600 });
    expect((await s.call({ type: 'REVIVE', revive: { roles: ['*'] } })).status).toBe(202);
    await s.stream.offers();
    // unknown roles: still 202, call dropped
    expect((await s.call({ type: 'REVIVE', revive: { roles: ['not-my-role'] } })).status).toBe(202);
    expect((await s.call({ type: 'SUPPRESS', suppress: { roles: ['*'] } })).status).toBe(202);
    s.stream.close();
  });

  it('suppressed_roles in SUBSCRIBE suppress from the start', async () => {
    master = await startMaster();
    await FakeAgent.register(master);
    const s = await session(master.url, MULTI_ROLE, { suppressedRoles: ['*'] });
    await s.stream.none((e) => e.type === 'OFFERS', 100);
    await s.call({ type: 'REVIVE' });
    await s.stream.offers();
    s.stream.close();
  });

  it('offer timeout rescinds and re-offers', async () => {
    master = await startMaster({ offerTimeoutMs: 50 });
    await FakeAgent.register(master);
    const s = await session(master.url);
    const [offer] = await s.stream.offers();
    const rescind = await s.stream.next('RESCIND');
    expect(rescind.rescind?.offer_id.value).toBe(offer!.id.value);
    const [again] = await s.stream.offers();
    expect(again!.id.value).not.toBe(offer!.id.value);
    s.stream.close();
  });

  it("agentGone rescinds that agent's offers", async () => {
    master = await startMaster();
    const agent = await FakeAgent.register(master);
    const s = await session(master.url);
    const [offer] = await s.stream.offers();
    master.agentGone(agent.agentId);
    const rescind = await s.stream.next('RESCIND');
    expect(rescind.rescind?.offer_id.value).toBe(offer!.id.value);
    s.stream.close();
  });

  it("lists the framework's executors on the agent and never offers less than the minimum", async () => {
    master = await startMaster();
    const agent = await FakeAgent.register(master, 'cpus:1;mem:256;disk:100');
    const s = await session(master.url);
    const [offer] = await s.stream.offers();
    await s.launch(
      offer!.id.value,
      [
        {
          name: 'e',
          task_id: { value: 'e1' },
          agent_id: { value: agent.agentId },
          resources: parseResources('cpus:0.995;mem:100'),
          executor: {
            executor_id: { value: 'exec-1' },
            command: { value: './executor' },
            resources: parseResources('mem:140'),
          },
        },
      ],
      { refuse_seconds: 0 },
    );
    await agent.waitFor('runTask');
    // left: cpus 0.005, mem 16, disk 100 → below the minimum, so nothing is offered
    await s.stream.none((e) => e.type === 'OFFERS', 100);
    master.exitedExecutor(agent.agentId, s.frameworkId, 'exec-1', 0);
    const failure = await s.stream.next('FAILURE');
    expect(failure.failure).toEqual({
      agent_id: { value: agent.agentId },
      executor_id: { value: 'exec-1' },
      status: 0,
    });
    const [next] = await s.stream.offers();
    expect(next!.executor_ids).toBeUndefined();
    s.stream.close();
  });
});

describe('ACCEPT', () => {
  it('launches a command task on the agent and filters the leftover', async () => {
    master = await startMaster();
    const agent = await FakeAgent.register(master);
    const s = await session(master.url, MULTI_ROLE);
    const [offer] = await s.stream.offers();
    const task = commandTask('x1', agent.agentId);
    const r = await s.launch(offer!.id.value, [task], { refuse_seconds: 0 });
    expect(r.status).toBe(202);
    const run = await agent.waitFor('runTask');
    expect(run.request.framework.id?.value).toBe(s.frameworkId);
    expect(run.request.executor).toBeUndefined();
    expect(run.request.task).toEqual({
      ...task,
      resources: task.resources!.map((res) => ({ ...res, allocation_info: { role: '*' } })),
    });
    const [next] = await s.stream.offers();
    expect(next!.resources!.map((res) => [res.name, res.scalar?.value])).toEqual([
      ['ports', undefined],
      ['cpus', 1.9],
      ['mem', 2016],
      ['disk', 4096],
    ]);
    s.stream.close();
  });

  it('fills executor.framework_id and remembers the executor for later offers', async () => {
    master = await startMaster();
    const agent = await FakeAgent.register(master);
    const s = await session(master.url);
    const [offer] = await s.stream.offers();
    const executor = {
      executor_id: { value: 'exec' },
      command: { value: './run-executor' },
      resources: parseResources('cpus:0.1;mem:32'),
    };
    await s.launch(
      offer!.id.value,
      [
        {
          name: 't',
          task_id: { value: 't1' },
          agent_id: { value: agent.agentId },
          resources: parseResources('cpus:0.5;mem:128'),
          executor,
        },
      ],
      { refuse_seconds: 0 },
    );
    const run = await agent.waitFor('runTask');
    expect(run.request.executor?.framework_id?.value).toBe(s.frameworkId);
    expect(run.request.task?.executor?.framework_id?.value).toBe(s.frameworkId);
    const [next] = await s.stream.offers();
    expect(next!.executor_ids).toEqual([{ value: 'exec' }]);
    expect(next!.resources!.find((res) => res.name === 'cpus')?.scalar?.value).toBe(1.4);
    // Same executor again: its resources are not charged twice.
    await s.launch(
      next!.id.value,
      [
        {
          name: 't',
          task_id: { value: 't2' },
          agent_id: { value: agent.agentId },
          resources: parseResources('cpus:1.4;mem:100'),
          executor: { ...executor, framework_id: { value: s.frameworkId } },
        },
      ],
      { refuse_seconds: 0 },
    );
    await agent.waitFor('runTask', (c) => c.request.task?.task_id.value === 't2');
    // A different ExecutorInfo under the same id is refused.
    const [third] = await s.stream.offers();
    await s.launch(third!.id.value, [
      {
        name: 't',
        task_id: { value: 't3' },
        agent_id: { value: agent.agentId },
        resources: parseResources('mem:10'),
        executor: { ...executor, command: { value: './other' } },
      },
    ]);
    const error = await s.stream.update('t3');
    expect(error.state).toBe('TASK_ERROR');
    expect(
      error.message?.startsWith(
        'ExecutorInfo is not compatible with existing ExecutorInfo with same ExecutorID.',
      ),
    ).toBe(true);
    s.stream.close();
  });

  it("reports invalid tasks as TASK_ERROR with Mesos' messages (capture 07)", async () => {
    master = await startMaster();
    const agent = await FakeAgent.register(master);
    const s = await session(master.url, MULTI_ROLE);
    let [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [commandTask('x1', agent.agentId)], { refuse_seconds: 0 });
    const cases: [ReturnType<typeof commandTask>, string][] = [
      [
        commandTask('big', agent.agentId, 'cpus:10;mem:32'),
        'Total resources cpus(allocated: *):10; mem(allocated: *):32 required by task and its executor is more than available ports(allocated: *):[31000-32000]; cpus(allocated: *):1.9; mem(allocated: *):2016; disk(allocated: *):4096',
      ],
      [commandTask('x1', agent.agentId), 'Task has duplicate ID: x1'],
      [commandTask('bad/id', agent.agentId), "'bad/id' contains invalid characters"],
      [
        { ...commandTask('nocmd', agent.agentId), command: undefined } as never,
        'Task should have at least one (but not both) of CommandInfo or ExecutorInfo present',
      ],
      [{ ...commandTask('nores', agent.agentId), resources: [] }, 'Task uses no resources'],
      [
        commandTask('wrong-agent', 'other-agent'),
        `Task uses invalid agent other-agent while agent ${agent.agentId} is expected`,
      ],
    ];
    for (const [task, message] of cases) {
      [offer] = await s.stream.offers();
      const { command, ...rest } = task;
      const r = await s.launch(offer!.id.value, [command ? task : rest], { refuse_seconds: 0 });
      expect(r.status).toBe(202);
      const status = await s.stream.update(task.task_id.value);
      expect(status).toMatchObject({
        task_id: task.task_id,
        state: 'TASK_ERROR',
        message,
        source: 'SOURCE_MASTER',
        reason: 'REASON_TASK_INVALID',
        agent_id: task.agent_id,
      });
      expect(status.uuid).toBeUndefined();
      expect(typeof status.timestamp).toBe('number');
    }
    s.stream.close();
  });

  it('LAUNCH_GROUP: executor minimums and all-or-nothing (capture 07 g/h)', async () => {
    master = await startMaster();
    const agent = await FakeAgent.register(master);
    const s = await session(master.url, MULTI_ROLE);
    const group = (execId: string, execRes: string, ids: string[]) => ({
      type: 'LAUNCH_GROUP' as const,
      launch_group: {
        executor: {
          type: 'DEFAULT' as const,
          executor_id: { value: execId },
          framework_id: { value: s.frameworkId },
          resources: parseResources(execRes),
        },
        task_group: {
          tasks: ids.map((id) => ({
            name: id,
            task_id: { value: id },
            agent_id: { value: agent.agentId },
            resources: parseResources('cpus:0.1;mem:32'),
            command: { shell: true, value: 'sleep 5' },
          })),
        },
      },
    });
    let [offer] = await s.stream.offers();
    await s.accept([offer!.id.value], [group('tiny-default-exec', 'cpus:0.001;mem:8', ['g1'])], {
      refuse_seconds: 0,
    });
    let status = await s.stream.update('g1');
    expect(status).toMatchObject({
      state: 'TASK_ERROR',
      reason: 'REASON_TASK_GROUP_INVALID',
      message: "Executor 'tiny-default-exec' uses less CPUs (0.001) than the minimum required (0.01)",
    });
    [offer] = await s.stream.offers();
    await s.accept([offer!.id.value], [group('nodisk-default-exec', 'cpus:0.1;mem:32', ['g2'])], {
      refuse_seconds: 0,
    });
    status = await s.stream.update('g2');
    expect(status.message).toBe("Executor 'nodisk-default-exec' uses no disk");
    [offer] = await s.stream.offers();
    const bad = group('exec', 'cpus:0.1;mem:32;disk:10', ['ok', 'bad/id']);
    await s.accept([offer!.id.value], [bad], { refuse_seconds: 0 });
    expect((await s.stream.update('ok')).reason).toBe('REASON_TASK_GROUP_INVALID');
    expect((await s.stream.update('bad/id')).message).toBe("'bad/id' contains invalid characters");
    [offer] = await s.stream.offers();
    await s.accept([offer!.id.value], [group('exec', 'cpus:0.1;mem:32;disk:10', ['lg1', 'lg2'])]);
    const run = await agent.waitFor('runTask');
    expect(run.request.taskGroup?.tasks?.map((t) => t.task_id.value)).toEqual(['lg1', 'lg2']);
    expect(run.request.taskGroup?.tasks?.[0]?.executor?.executor_id.value).toBe('exec');
    expect(run.request.executor?.executor_id.value).toBe('exec');
    s.stream.close();
  });

  it('stale and unknown offers give TASK_LOST, or TASK_DROPPED when PARTITION_AWARE', async () => {
    master = await startMaster();
    const agent = await FakeAgent.register(master);
    const s = await session(master.url, MULTI_ROLE);
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [commandTask('ok', agent.agentId)]);
    await s.launch(offer!.id.value, [commandTask('stale1', agent.agentId)]);
    expect(await s.stream.update('stale1')).toMatchObject({
      state: 'TASK_LOST',
      reason: 'REASON_INVALID_OFFERS',
      source: 'SOURCE_MASTER',
      message: `Task launched with invalid offers: Offer ${offer!.id.value} is no longer valid`,
      agent_id: { value: agent.agentId },
    });
    await s.launch('no-such-offer-O999', [commandTask('unknown1', agent.agentId)]);
    expect((await s.stream.update('unknown1')).message).toBe(
      'Task launched with invalid offers: Offer no-such-offer-O999 is no longer valid',
    );
    const pa = await session(master.url, frameworkInfo({ capabilities: [{ type: 'PARTITION_AWARE' }] }));
    await pa.launch('no-such-offer-O999', [commandTask('unknown2', agent.agentId)]);
    expect((await pa.stream.update('unknown2')).state).toBe('TASK_DROPPED');
    s.stream.close();
    pa.stream.close();
  });
});
