/**
 * Agent recovery at the agent level (a fake master): what a restarted agent finds in its
 * checkpoint, and what it does with executors that died while it was down.
 */
import { appendFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { executorCall } from '@mesoskit/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Checkpoint } from '../../src/agent/checkpoint.js';
import { LocalAgent } from '../../src/agent/index.js';
import {
  AGENT_ID,
  FakeMaster,
  FRAMEWORK_ID,
  frameworkInfo,
  request,
  task,
  testExecutor,
  waitFor,
} from './helpers.js';

const RECOVERING = fileURLToPath(new URL('../integration/fixtures/recovering-executor.mjs', import.meta.url));

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function workDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mesoskit-recovery-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function agent(dir: string, recover: boolean, port?: number) {
  const master = new FakeMaster();
  const a = await LocalAgent.start({
    master,
    workDir: dir,
    recover,
    executorReregistrationTimeoutMs: 5000,
    ...(port !== undefined ? { port } : {}),
  });
  cleanup.push(() => a.stop());
  return { agent: a, master };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('agent recovery', () => {
  it('an executor that died while the agent was down: FAILURE and TASK_FAILED (REASON_EXECUTOR_TERMINATED)', async () => {
    const dir = await workDir();
    const first = await agent(dir, false);
    const executor = testExecutor('rec', {}, { value: `exec node ${RECOVERING}` });
    first.agent.runTask({
      framework: frameworkInfo({ checkpoint: true }),
      executor,
      task: task('t', undefined, executor),
    });
    await first.master.waitUpdate('t', 'TASK_RUNNING');
    const pid = first.agent.pidOf(FRAMEWORK_ID, 'rec')!;
    await first.agent.crash();
    expect(alive(pid)).toBe(true);
    process.kill(-pid, 'SIGKILL');
    await waitFor(`executor ${pid} to die`, () => !alive(pid));

    const second = await agent(dir, true);
    expect(second.agent.agentId).toBe(AGENT_ID);
    const failed = await second.master.waitUpdate('t', 'TASK_FAILED');
    expect(failed).toMatchObject({ source: 'SOURCE_AGENT', reason: 'REASON_EXECUTOR_TERMINATED' });
    expect(second.master.exited).toEqual([{ frameworkId: FRAMEWORK_ID, executorId: 'rec', status: -1 }]);
    expect(second.agent.executors()).toEqual([]);
  });

  it('re-registers with its frameworks, executors and tasks, and the executor re-subscribes', async () => {
    const dir = await workDir();
    const first = await agent(dir, false);
    const executor = testExecutor('rec', {}, { value: `exec node ${RECOVERING}` });
    first.agent.runTask({
      framework: frameworkInfo({ checkpoint: true }),
      executor,
      task: task('t', undefined, executor),
    });
    await first.master.waitUpdate('t', 'TASK_RUNNING');
    const pid = first.agent.pidOf(FRAMEWORK_ID, 'rec')!;
    await first.agent.crash();

    // Same port: the executor knows the agent by MESOS_AGENT_ENDPOINT.
    const second = await agent(dir, true, first.agent.port);
    const registration = second.master.registration!;
    expect(registration.agentId).toBe(AGENT_ID);
    expect(registration.frameworks?.map((f) => f.id?.value)).toEqual([FRAMEWORK_ID]);
    expect(registration.executors?.map((e) => e.info.executor_id.value)).toEqual(['rec']);
    expect(registration.tasks).toEqual([
      expect.objectContaining({ frameworkId: FRAMEWORK_ID, executorId: 'rec', state: 'TASK_RUNNING' }),
    ]);
    await waitFor('the executor to re-subscribe', () =>
      second.agent.executors().some((e) => e.state === 'RUNNING' && e.pid === pid),
    );
  });

  it('a recovered executor that has not subscribed again gets 503 for other calls', async () => {
    const dir = await workDir();
    const first = await agent(dir, false);
    const executor = testExecutor(
      'rec',
      { TEST_EXECUTOR_NO_RESUBSCRIBE: '1' },
      { value: `exec node ${RECOVERING}` },
    );
    first.agent.runTask({
      framework: frameworkInfo({ checkpoint: true }),
      executor,
      task: task('t', undefined, executor),
    });
    const running = await first.master.waitUpdate('t', 'TASK_RUNNING');
    await first.agent.crash();
    const second = await agent(dir, true, first.agent.port);
    const update = {
      type: 'UPDATE',
      framework_id: { value: FRAMEWORK_ID },
      executor_id: { value: 'rec' },
      update: { status: { ...running, agent_id: undefined, container_status: undefined } },
    } as const;
    const res = await request(second.agent.url, {
      headers: { 'Content-Type': 'application/json' },
      body: executorCall.encode(update, 'json'),
    });
    expect(res).toMatchObject({ status: 503, body: 'Agent has not finished recovery' });
  });

  it('does not recover a framework with nothing left (its executor ended, its updates acknowledged)', async () => {
    const dir = await workDir();
    const first = await agent(dir, false);
    const executor = testExecutor('rec', {}, { value: `exec node ${RECOVERING}` });
    first.agent.runTask({
      framework: frameworkInfo({ checkpoint: true }),
      executor,
      task: task('t', undefined, executor),
    });
    await first.master.waitUpdate('t', 'TASK_RUNNING');
    await waitFor('the executor to subscribe', () => first.agent.executors()[0]?.state === 'RUNNING');
    first.agent.frameworkMessage(FRAMEWORK_ID, 'rec', Buffer.from('finish:t'));
    await first.master.waitUpdate('t', 'TASK_FINISHED');
    first.agent.shutdownExecutor(FRAMEWORK_ID, 'rec');
    await waitFor('the executor to exit', () => first.master.exited.length === 1);
    await first.agent.crash();

    const second = await agent(dir, true);
    expect(second.master.registration?.agentId).toBe(AGENT_ID);
    expect(second.master.registration?.frameworks).toBeUndefined();
    expect(readdirSync(join(dir, 'meta/slaves', AGENT_ID, 'frameworks'))).toEqual([]);
  });

  it('the checkpoint survives a torn last record and unreadable files (skipped, not fatal)', async () => {
    const dir = await workDir();
    const cp = new Checkpoint(dir);
    const fw = frameworkInfo({ checkpoint: true });
    const executor = testExecutor('e');
    cp.agent(AGENT_ID, { hostname: 'localhost', resources: [] });
    cp.framework(AGENT_ID, fw);
    cp.executor(AGENT_ID, FRAMEWORK_ID, executor, 'c1', undefined);
    const t1 = cp.task(AGENT_ID, FRAMEWORK_ID, 'e', 'c1', task('t1'));
    const uuid = Uint8Array.from(Buffer.alloc(16, 7));
    cp.update(t1, {
      task_id: { value: 't1' },
      state: 'TASK_RUNNING',
      uuid,
      data: Uint8Array.of(0, 255),
    });
    // The agent died while appending a record: its length says more than is there.
    const log = join(
      dir,
      'meta/slaves',
      AGENT_ID,
      'frameworks',
      FRAMEWORK_ID,
      'executors/e/runs/c1/tasks.1.log',
    );
    cp.stop();
    appendFileSync(log, '900\nU\x00\x02t1');
    // An unreadable executor.info: that executor is skipped.
    cp.executor(AGENT_ID, FRAMEWORK_ID, testExecutor('bad'), 'c2', undefined);
    appendFileSync(
      join(dir, 'meta/slaves', AGENT_ID, 'frameworks', FRAMEWORK_ID, 'executors/bad/executor.info'),
      'garbage',
    );

    const state = cp.recover()!;
    expect(state.agentId).toBe(AGENT_ID);
    expect(state.rebooted).toBe(false);
    expect(state.executors).toHaveLength(1);
    const [recovered] = state.executors;
    expect(recovered!.tasks.map((t) => t.info.task_id.value)).toEqual(['t1']);
    expect(recovered!.tasks[0]!.updates).toEqual([
      { task_id: { value: 't1' }, state: 'TASK_RUNNING', uuid, data: Uint8Array.of(0, 255) },
    ]);
    expect(readdirSync(join(dir, 'meta'))).toEqual(['boot_id', 'slaves']);
    // The torn record was cut off: what the recovered agent appends is read by the next recovery.
    const again = new Checkpoint(dir);
    again.recover();
    const where = again.taskCheckpoint(AGENT_ID, FRAMEWORK_ID, 'e', 'c1', 't1');
    again.update(where, {
      task_id: { value: 't1' },
      state: 'TASK_FINISHED',
      uuid: Uint8Array.from(Buffer.alloc(16, 8)),
    });
    again.stop();
    const states = new Checkpoint(dir).recover()!.executors[0]!.tasks[0]!.updates.map((u) => u.state);
    expect(states).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
  });
});
