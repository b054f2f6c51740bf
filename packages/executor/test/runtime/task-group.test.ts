/**
 * LAUNCH_GROUP: the tasks of a group live and die together, as with Mesos' default executor
 * (src/launcher/default_executor.cpp): when one member ends in TASK_FAILED or TASK_KILLED, the
 * others are killed (TASK_KILLING first when the framework has the capability, then TASK_KILLED,
 * no reason); a member that finishes leaves the others running.
 */
import { describe, expect, it } from 'vitest';
import { block, echo, fail, gates } from '../helpers/tasks.js';
import { closedWithin, start } from './setup.js';

const env = (task: string, input: unknown = {}) => ({ task, taskVersion: 1, attempt: 1, input });

describe('LAUNCH_GROUP', () => {
  it('a KILL of one member kills the whole group', async () => {
    const { agent } = await start();
    agent.launchGroup([
      ['g1', env(block.name)],
      ['g2', env(block.name)],
      ['g3', env(block.name)],
    ]);
    await Promise.all(['g1', 'g2', 'g3'].map((id) => agent.waitForUpdate(id, 'TASK_RUNNING')));
    agent.send({ type: 'KILL', kill: { task_id: { value: 'g2' } } });
    const [k1, k2, k3] = await Promise.all(
      ['g1', 'g2', 'g3'].map((id) => agent.waitForUpdate(id, 'TASK_KILLED')),
    );
    expect(k2!.message).toBe('Task killed');
    for (const other of [k1!, k3!]) {
      expect(other.message).toBe('Task killed: task g2 of its task group ended in TASK_KILLED');
      expect(other.reason).toBeUndefined();
    }
    expect([...gates.aborted].sort()).toEqual(['g1', 'g2', 'g3']);
    for (const id of ['g1', 'g2', 'g3']) expect(agent.states(id)).toEqual(['TASK_RUNNING', 'TASK_KILLED']);
  });

  it('sends TASK_KILLING for every member killed when the framework has TASK_KILLING_STATE', async () => {
    const { agent } = await start({ agentOptions: { frameworkCapabilities: ['TASK_KILLING_STATE'] } });
    agent.launchGroup([
      ['g1', env(block.name)],
      ['g2', env(block.name)],
    ]);
    await Promise.all(['g1', 'g2'].map((id) => agent.waitForUpdate(id, 'TASK_RUNNING')));
    agent.send({ type: 'KILL', kill: { task_id: { value: 'g1' } } });
    await Promise.all(['g1', 'g2'].map((id) => agent.waitForUpdate(id, 'TASK_KILLED')));
    for (const id of ['g1', 'g2'])
      expect(agent.states(id)).toEqual(['TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED']);
  });

  it('a failing member gets the others killed; its own update keeps its failure', async () => {
    const { agent } = await start();
    agent.launchGroup([
      ['f1', env(block.name)],
      ['f2', env(fail.name, { code: 'BOOM' })],
      ['f3', env(block.name)],
    ]);
    const failed = await agent.waitForUpdate('f2', 'TASK_FAILED');
    expect(failed.message).toContain('BOOM');
    const killed = await Promise.all(['f1', 'f3'].map((id) => agent.waitForUpdate(id, 'TASK_KILLED')));
    for (const k of killed)
      expect(k.message).toBe('Task killed: task f2 of its task group ended in TASK_FAILED');
    expect(agent.states('f1')).toEqual(['TASK_RUNNING', 'TASK_KILLED']);
    expect(agent.states('f2')).toEqual(['TASK_RUNNING', 'TASK_FAILED']);
  });

  it('a member that finishes leaves the others running', async () => {
    const { agent, executor } = await start();
    agent.launchGroup([
      ['d1', env(echo.name, { text: 'done' })],
      ['d2', env(block.name)],
    ]);
    await agent.waitForUpdate('d1', 'TASK_FINISHED');
    await agent.waitForUpdate('d2', 'TASK_RUNNING');
    expect(executor.stats().running).toBe(1);
    gates.open('d2');
    await agent.waitForUpdate('d2', 'TASK_FINISHED');
    expect(agent.states('d2')).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
    expect(gates.aborted).toEqual([]);
  });

  it('an invalid member fails (REASON_TASK_INVALID) and the others are killed before they start', async () => {
    const { agent } = await start();
    agent.launchGroup([
      ['v1', env(block.name)],
      ['v2', env('no.such.task')],
      ['v3', env(block.name)],
    ]);
    const failed = await agent.waitForUpdate('v2', 'TASK_FAILED');
    expect(failed.reason).toBe('REASON_TASK_INVALID');
    const killed = await Promise.all(['v1', 'v3'].map((id) => agent.waitForUpdate(id, 'TASK_KILLED')));
    for (const k of killed)
      expect(k.message).toBe(
        'Task killed: task v2 of its task group ended in TASK_FAILED (before it started)',
      );
    expect(agent.states('v1')).toEqual(['TASK_KILLED']);
    expect(gates.started).toEqual([]);
  });

  it('kills a member still queued behind the concurrency limit without running it', async () => {
    const { agent } = await start({ concurrency: 1 });
    agent.launchGroup([
      ['c1', env(block.name)],
      ['c2', env(block.name)],
    ]);
    await agent.waitForUpdate('c1', 'TASK_RUNNING');
    agent.send({ type: 'KILL', kill: { task_id: { value: 'c1' } } });
    await agent.waitForUpdate('c1', 'TASK_KILLED');
    const c2 = await agent.waitForUpdate('c2', 'TASK_KILLED');
    expect(c2.message).toContain('before it started');
    expect(agent.states('c2')).toEqual(['TASK_KILLED']);
    expect(gates.started).toEqual(['c1']);
  });

  it('two groups are independent', async () => {
    const { agent } = await start();
    agent.launchGroup([
      ['a1', env(block.name)],
      ['a2', env(block.name)],
    ]);
    agent.launchGroup([['b1', env(block.name)]]);
    await Promise.all(['a1', 'a2', 'b1'].map((id) => agent.waitForUpdate(id, 'TASK_RUNNING')));
    agent.send({ type: 'KILL', kill: { task_id: { value: 'a1' } } });
    await agent.waitForUpdate('a2', 'TASK_KILLED');
    gates.open('b1');
    await agent.waitForUpdate('b1', 'TASK_FINISHED');
    expect(agent.states('b1')).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
  });

  it('SHUTDOWN kills every member with the shutdown message, not as a group kill', async () => {
    const { agent, executor } = await start();
    agent.launchGroup([
      ['s1', env(block.name)],
      ['s2', env(block.name)],
    ]);
    await Promise.all(['s1', 's2'].map((id) => agent.waitForUpdate(id, 'TASK_RUNNING')));
    agent.send({ type: 'SHUTDOWN' });
    const killed = await Promise.all(['s1', 's2'].map((id) => agent.waitForUpdate(id, 'TASK_KILLED')));
    for (const k of killed) expect(k.message).toBe('Task killed: the executor is shutting down');
    await closedWithin(executor);
  });
});
