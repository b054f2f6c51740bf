import { decodeResultEnvelope } from '@mesoskit/protocol';
import { describe, expect, it } from 'vitest';
import { block, echo, gates, stubborn } from '../helpers/tasks.js';
import { closedWithin, start } from './setup.js';

const grace = (ms: number) => ({ grace_period: { nanoseconds: ms * 1e6 } });

describe('KILL', () => {
  it('aborts the signal and reports TASK_KILLED once the handler stops; its result is dropped', async () => {
    const { agent } = await start();
    agent.launch('k1', { task: block.name, taskVersion: 1, attempt: 1, input: {} });
    await agent.waitForUpdate('k1', 'TASK_RUNNING');
    agent.send({ type: 'KILL', kill: { task_id: { value: 'k1' } } });
    const killed = await agent.waitForUpdate('k1', 'TASK_KILLED');
    expect(gates.aborted).toContain('k1');
    expect(killed.message).toBe('Task killed');
    expect(killed.data).toBeUndefined();
    expect(agent.states('k1')).toEqual(['TASK_RUNNING', 'TASK_KILLED']);
  });

  it('reports a handler that ignores its signal killed after the grace period, and drops its later result', async () => {
    const { agent, logs, executor } = await start({ killGracePeriodMs: 60_000 });
    agent.launch('k2', { task: stubborn.name, taskVersion: 1, attempt: 1, input: {} });
    await agent.waitForUpdate('k2', 'TASK_RUNNING');
    // The KILL's own kill_policy wins over the executor default (60 s would time the test out).
    agent.send({ type: 'KILL', kill: { task_id: { value: 'k2' }, kill_policy: grace(50) } });
    const killed = await agent.waitForUpdate('k2', 'TASK_KILLED');
    expect(killed.message).toBe('Task killed; the handler did not stop within 50 ms');
    expect(executor.stats().running).toBe(0);
    gates.open('k2', 'too late');
    // Another task proves the loop went on; the stubborn result never produced an update.
    agent.launch('after', { task: echo.name, taskVersion: 1, attempt: 1, input: { text: 'x' } });
    await agent.waitForUpdate('after', 'TASK_FINISHED');
    await new Promise((r) => setImmediate(r));
    expect(agent.states('k2')).toEqual(['TASK_RUNNING', 'TASK_KILLED']);
    expect(
      logs.some((l) => l.message.startsWith('the handler did not stop within its kill grace period')),
    ).toBe(true);
  });

  it('uses TaskInfo.kill_policy when the KILL has none', async () => {
    const { agent } = await start({ killGracePeriodMs: 60_000 });
    agent.launch(
      'k3',
      { task: stubborn.name, taskVersion: 1, attempt: 1, input: {} },
      { kill_policy: grace(20) },
    );
    await agent.waitForUpdate('k3', 'TASK_RUNNING');
    agent.send({ type: 'KILL', kill: { task_id: { value: 'k3' } } });
    expect((await agent.waitForUpdate('k3', 'TASK_KILLED')).message).toContain('within 20 ms');
    gates.open('k3');
  });

  it('treats a second KILL as harmless (one TASK_KILLED), and lets it shorten the grace', async () => {
    const { agent } = await start({ killGracePeriodMs: 60_000 });
    agent.launch('k4', { task: stubborn.name, taskVersion: 1, attempt: 1, input: {} });
    await agent.waitForUpdate('k4', 'TASK_RUNNING');
    agent.send({ type: 'KILL', kill: { task_id: { value: 'k4' } } });
    agent.send({ type: 'KILL', kill: { task_id: { value: 'k4' }, kill_policy: grace(10) } });
    await agent.waitForUpdate('k4', 'TASK_KILLED');
    agent.send({ type: 'KILL', kill: { task_id: { value: 'k4' } } });
    agent.launch('after', { task: echo.name, taskVersion: 1, attempt: 1, input: { text: 'x' } });
    await agent.waitForUpdate('after', 'TASK_FINISHED');
    expect(agent.states('k4')).toEqual(['TASK_RUNNING', 'TASK_KILLED']);
    gates.open('k4');
  });

  it('kills a queued task without ever running it, and ignores a KILL for an unknown task', async () => {
    const { agent } = await start({ concurrency: 1 });
    agent.launch('q1', { task: block.name, taskVersion: 1, attempt: 1, input: {} });
    agent.launch('q2', { task: block.name, taskVersion: 1, attempt: 1, input: {} });
    await agent.waitForUpdate('q1', 'TASK_RUNNING');
    agent.send({ type: 'KILL', kill: { task_id: { value: 'q2' } } });
    agent.send({ type: 'KILL', kill: { task_id: { value: 'nobody' } } });
    expect((await agent.waitForUpdate('q2', 'TASK_KILLED')).message).toBe('Task killed before it started');
    gates.open('q1');
    await agent.waitForUpdate('q1', 'TASK_FINISHED');
    expect(agent.states('q2')).toEqual(['TASK_KILLED']);
    expect(agent.states('nobody')).toEqual([]);
    expect(gates.started).not.toContain('q2');
  });
});

describe('TASK_KILLING', () => {
  const killingState = { agentOptions: { frameworkCapabilities: ['TASK_KILLING_STATE' as const] } };

  it('is sent first when the framework has the TASK_KILLING_STATE capability', async () => {
    const { agent } = await start(killingState);
    agent.launch('k1', { task: block.name, taskVersion: 1, attempt: 1, input: {} });
    await agent.waitForUpdate('k1', 'TASK_RUNNING');
    agent.send({ type: 'KILL', kill: { task_id: { value: 'k1' } } });
    await agent.waitForUpdate('k1', 'TASK_KILLED');
    expect(agent.states('k1')).toEqual(['TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED']);
    // As Mesos' executors send it: no message, no reason, no data (capture 15).
    const killing = await agent.waitForUpdate('k1', 'TASK_KILLING');
    expect(killing).toMatchObject({ source: 'SOURCE_EXECUTOR' });
    expect(killing.message).toBeUndefined();
    expect(killing.reason).toBeUndefined();
    expect(killing.data).toBeUndefined();
  });

  it('is not sent without the capability', async () => {
    const { agent } = await start({ agentOptions: { frameworkCapabilities: ['MULTI_ROLE'] } });
    agent.launch('k1', { task: block.name, taskVersion: 1, attempt: 1, input: {} });
    await agent.waitForUpdate('k1', 'TASK_RUNNING');
    agent.send({ type: 'KILL', kill: { task_id: { value: 'k1' } } });
    await agent.waitForUpdate('k1', 'TASK_KILLED');
    expect(agent.states('k1')).toEqual(['TASK_RUNNING', 'TASK_KILLED']);
  });

  it('is sent once for a second KILL, and not for a task killed while queued', async () => {
    const { agent } = await start({ ...killingState, concurrency: 1, killGracePeriodMs: 60_000 });
    agent.launch('k1', { task: stubborn.name, taskVersion: 1, attempt: 1, input: {} });
    agent.launch('q1', { task: block.name, taskVersion: 1, attempt: 1, input: {} });
    await agent.waitForUpdate('k1', 'TASK_RUNNING');
    agent.send({ type: 'KILL', kill: { task_id: { value: 'q1' } } });
    agent.send({ type: 'KILL', kill: { task_id: { value: 'k1' } } });
    agent.send({ type: 'KILL', kill: { task_id: { value: 'k1' }, kill_policy: grace(10) } });
    await agent.waitForUpdate('k1', 'TASK_KILLED');
    expect(agent.states('k1')).toEqual(['TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED']);
    expect(agent.states('q1')).toEqual(['TASK_KILLED']);
    gates.open('k1');
  });

  it('precedes TASK_KILLED on SHUTDOWN too', async () => {
    const { agent, executor } = await start(killingState);
    agent.launch('s1', { task: block.name, taskVersion: 1, attempt: 1, input: {} });
    await agent.waitForUpdate('s1', 'TASK_RUNNING');
    agent.send({ type: 'SHUTDOWN' });
    await closedWithin(executor);
    expect(agent.states('s1')).toEqual(['TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED']);
  });

  it('with runningUpdateDelayMs, a task killed before its TASK_RUNNING never gets one', async () => {
    const { agent } = await start({ ...killingState, runningUpdateDelayMs: 60_000 });
    agent.launch('k1', { task: block.name, taskVersion: 1, attempt: 1, input: {} });
    await gates.whenStarted('k1');
    agent.send({ type: 'KILL', kill: { task_id: { value: 'k1' } } });
    await agent.waitForUpdate('k1', 'TASK_KILLED');
    expect(agent.states('k1')).toEqual(['TASK_KILLING', 'TASK_KILLED']);
  });
});

describe('SHUTDOWN', () => {
  it('kills every task, sends their terminal updates, waits for ACKNOWLEDGED and exits 0', async () => {
    const { agent, executor } = await start({ concurrency: 1, killGracePeriodMs: 100 });
    agent.launch('s1', { task: block.name, taskVersion: 1, attempt: 1, input: {} });
    agent.launch('s2', { task: stubborn.name, taskVersion: 1, attempt: 1, input: {} });
    agent.launch('s3', { task: echo.name, taskVersion: 1, attempt: 1, input: { text: 'queued' } });
    await agent.waitForUpdate('s1', 'TASK_RUNNING');
    agent.autoAck = false;
    agent.send({ type: 'SHUTDOWN' });
    const killed = await Promise.all(['s1', 's2', 's3'].map((id) => agent.waitForUpdate(id, 'TASK_KILLED')));
    // Not acknowledged yet: the executor waits.
    expect(executor.stats().unacknowledgedUpdates).toBe(3);
    for (const status of killed) agent.ack(status);
    const exit = await closedWithin(executor);
    expect(exit).toEqual({ reason: 'shutdown', exitCode: 0 });
    expect(executor.stats().unacknowledgedUpdates).toBe(0);
    expect(agent.states('s2')).toEqual(['TASK_KILLED']);
    gates.open('s2');
  });

  it('does not wait for acknowledgements longer than the shutdown grace period allows', async () => {
    const { agent, executor } = await start({
      agentOptions: { autoAck: false },
      env: { MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: '200ms' },
    });
    agent.launch('s1', { task: echo.name, taskVersion: 1, attempt: 1, input: { text: 'x' } });
    await agent.waitForUpdate('s1', 'TASK_FINISHED');
    const started = Date.now();
    agent.send({ type: 'SHUTDOWN' });
    expect(await closedWithin(executor)).toMatchObject({ reason: 'shutdown', exitCode: 0 });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('stop() does what SHUTDOWN does', async () => {
    const { agent, executor } = await start();
    agent.launch('s1', { task: block.name, taskVersion: 1, attempt: 1, input: {} });
    await agent.waitForUpdate('s1', 'TASK_RUNNING');
    expect(await executor.stop()).toEqual({ reason: 'stopped', exitCode: 0 });
    expect(agent.states('s1')).toEqual(['TASK_RUNNING', 'TASK_KILLED']);
  });

  it('kills a task launched while shutting down', async () => {
    const { agent, executor } = await start({ killGracePeriodMs: 200 });
    agent.launch('s1', { task: stubborn.name, taskVersion: 1, attempt: 1, input: {} });
    await agent.waitForUpdate('s1', 'TASK_RUNNING');
    agent.send({ type: 'SHUTDOWN' });
    agent.launch('late', { task: echo.name, taskVersion: 1, attempt: 1, input: { text: 'x' } });
    expect((await agent.waitForUpdate('late', 'TASK_KILLED')).message).toContain('shutting down');
    await closedWithin(executor);
    gates.open('s1');
  });

  it('an ERROR event ends the executor like SHUTDOWN, with reason agent-error', async () => {
    const { agent, executor } = await start();
    agent.send({ type: 'ERROR', error: { message: 'something is wrong' } });
    const exit = await closedWithin(executor);
    expect(exit.reason).toBe('agent-error');
    expect(exit.exitCode).toBe(1);
    expect(exit.error?.message).toBe('something is wrong');
  });
});

describe('idle timeout', () => {
  it('exits cleanly after idleTimeoutMs with no task, once the last update is acknowledged', async () => {
    const { agent, executor } = await start({ idleTimeoutMs: 50 });
    agent.launch('i1', { task: echo.name, taskVersion: 1, attempt: 1, input: { text: 'x' } });
    const finished = await agent.waitForUpdate('i1', 'TASK_FINISHED');
    expect(decodeResultEnvelope(finished.data!).ok).toBe(true);
    expect(await closedWithin(executor)).toEqual({ reason: 'idle', exitCode: 0 });
    expect(executor.stats().unacknowledgedUpdates).toBe(0);
  });

  it('does not time out while a task runs', async () => {
    // TASK_RUNNING comes only after 100 ms of running: waiting for it waits longer than the
    // idle timeout, with the task running all along (no sleep in the test).
    const { agent, executor } = await start({ idleTimeoutMs: 30, runningUpdateDelayMs: 100 });
    const launchedAt = performance.now();
    agent.launch('i2', { task: block.name, taskVersion: 1, attempt: 1, input: {} });
    await agent.waitForUpdate('i2', 'TASK_RUNNING');
    expect(performance.now() - launchedAt).toBeGreaterThanOrEqual(30);
    expect(executor.stats().running).toBe(1);
    gates.open('i2');
    await agent.waitForUpdate('i2', 'TASK_FINISHED');
    expect((await closedWithin(executor)).reason).toBe('idle');
  });
});
