import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AGENT_ID,
  alive,
  commandTask,
  FRAMEWORK_ID,
  frameworkInfo,
  type Harness,
  startAgent,
  waitFor,
} from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

describe('command tasks', () => {
  it('echo hi: STARTING, RUNNING, FINISHED "Command exited with status 0", like capture 03', async () => {
    h = await startAgent();
    h.agent.runTask({ framework: frameworkInfo(), task: commandTask('t1', 'echo hi; exit 0') });
    const finished = await h.master.waitUpdate('t1', 'TASK_FINISHED');
    expect(h.master.statesOf('t1')).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
    const sandbox = join(
      h.workDir,
      'slaves',
      AGENT_ID,
      'frameworks',
      FRAMEWORK_ID,
      'executors',
      't1',
      'runs',
      'latest',
    );
    expect(readFileSync(join(sandbox, 'stdout'), 'utf8')).toBe('hi\n');
    expect(finished).toMatchObject({
      task_id: { value: 't1' },
      state: 'TASK_FINISHED',
      message: 'Command exited with status 0',
      source: 'SOURCE_EXECUTOR',
      agent_id: { value: AGENT_ID },
      executor_id: { value: 't1' },
      container_status: {
        network_infos: [{ ip_addresses: [{ protocol: 'IPv4', ip_address: '127.0.0.1' }] }],
      },
    });
    expect(finished.reason).toBeUndefined();
    expect(finished.uuid).toHaveLength(16);
    expect(finished.container_status?.executor_pid).toBeGreaterThan(0);
    for (const u of h.master.updates)
      expect(u.status.container_status?.container_id).toEqual(finished.container_status?.container_id);
    expect(h.master.exited).toEqual([]);
  });

  it('exit 3: TASK_FAILED "Command exited with status 3" without a reason; sees the command-task environment', async () => {
    h = await startAgent();
    h.agent.runTask({
      framework: frameworkInfo(),
      task: commandTask('t2', 'env | sort > env.txt; echo failing >&2; exit 3', {
        resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 0.1 }, allocation_info: { role: '*' } }],
      }),
    });
    const failed = await h.master.waitUpdate('t2', 'TASK_FAILED');
    expect(failed).toMatchObject({ message: 'Command exited with status 3', source: 'SOURCE_EXECUTOR' });
    expect(failed.reason).toBeUndefined();
    const sandbox = join(
      h.workDir,
      'slaves',
      AGENT_ID,
      'frameworks',
      FRAMEWORK_ID,
      'executors',
      't2',
      'runs',
      'latest',
    );
    expect(readFileSync(join(sandbox, 'stderr'), 'utf8')).toBe('failing\n');
    const names = readFileSync(join(sandbox, 'env.txt'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split('=')[0]);
    // Capture 17's command-task environment (checkpoint off: no RECOVERY_TIMEOUT/BACKOFF_MAX).
    expect(names).toEqual([
      'LIBPROCESS_IP',
      'LIBPROCESS_PORT',
      'MESOS_AGENT_ENDPOINT',
      'MESOS_ALLOCATION_ROLE',
      'MESOS_CHECKPOINT',
      'MESOS_DIRECTORY',
      'MESOS_EXECUTOR_ID',
      'MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD',
      'MESOS_FRAMEWORK_ID',
      'MESOS_HTTP_COMMAND_EXECUTOR',
      'MESOS_SANDBOX',
      'MESOS_SLAVE_ID',
      'MESOS_SLAVE_PID',
      'PATH',
      'PWD',
    ]);
    expect(readFileSync(join(sandbox, 'env.txt'), 'utf8')).toContain('MESOS_ALLOCATION_ROLE=*\n');
  });

  it('kill: TASK_KILLING (with TASK_KILLING_STATE), then TASK_KILLED "Command terminated with signal Terminated"', async () => {
    h = await startAgent();
    h.agent.runTask({
      framework: frameworkInfo({ capabilities: [{ type: 'TASK_KILLING_STATE' }] }),
      task: commandTask('k1', 'sleep 100'),
    });
    await h.master.waitUpdate('k1', 'TASK_RUNNING');
    const pid = h.agent.pidOf(FRAMEWORK_ID, 'k1')!;
    h.agent.killTask(FRAMEWORK_ID, 'k1');
    const killed = await h.master.waitUpdate('k1', 'TASK_KILLED');
    expect(h.master.statesOf('k1')).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED']);
    expect(killed).toMatchObject({
      message: 'Command terminated with signal Terminated',
      source: 'SOURCE_EXECUTOR',
    });
    expect(killed.reason).toBeUndefined();
    await waitFor(`process group ${pid} gone`, () => !alive(-pid));
  });

  it('kill without TASK_KILLING_STATE, escalating to SIGKILL after the kill policy grace period', async () => {
    h = await startAgent();
    h.agent.runTask({
      framework: frameworkInfo(),
      task: commandTask('k2', "trap '' TERM; touch trapped; sleep 100"),
    });
    await h.master.waitUpdate('k2', 'TASK_RUNNING');
    // TASK_RUNNING comes once the process started, maybe before `sh` ran `trap` (seen under
    // load): kill only once SIGTERM is ignored.
    await waitFor('the command to ignore SIGTERM', () =>
      existsSync(join(h!.agent.sandboxOf(FRAMEWORK_ID, 'k2') ?? '/nonexistent', 'trapped')),
    );
    h.agent.killTask(FRAMEWORK_ID, 'k2', { grace_period: { nanoseconds: 200_000_000 } });
    const killed = await h.master.waitUpdate('k2', 'TASK_KILLED');
    expect(h.master.statesOf('k2')).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLED']);
    expect(killed.message).toBe('Command terminated with signal Killed');
  });

  it('shutdownExecutor of a command task kills the command: TASK_KILLED', async () => {
    h = await startAgent();
    h.agent.runTask({ framework: frameworkInfo(), task: commandTask('s1', 'sleep 100') });
    await h.master.waitUpdate('s1', 'TASK_RUNNING');
    h.agent.shutdownExecutor(FRAMEWORK_ID, 's1');
    expect((await h.master.waitUpdate('s1', 'TASK_KILLED')).message).toBe(
      'Command terminated with signal Terminated',
    );
  });

  it('a command task killed before it starts is TASK_KILLED during launch and never runs', async () => {
    h = await startAgent();
    h.agent.runTask({ framework: frameworkInfo(), task: commandTask('q1', 'touch ran') });
    h.agent.killTask(FRAMEWORK_ID, 'q1');
    expect(await h.master.waitUpdate('q1', 'TASK_KILLED')).toMatchObject({
      source: 'SOURCE_AGENT',
      reason: 'REASON_TASK_KILLED_DURING_LAUNCH',
    });
    await waitFor('executor gone', () => h!.agent.sandboxOf(FRAMEWORK_ID, 'q1') === undefined);
    expect(h.master.statesOf('q1')).toEqual(['TASK_KILLED']);
  });

  it('a command killed by the fault hook gets the agent TASK_FAILED Executor terminated; no exitedExecutor', async () => {
    h = await startAgent();
    h.agent.runTask({ framework: frameworkInfo(), task: commandTask('f1', 'sleep 100') });
    await h.master.waitUpdate('f1', 'TASK_RUNNING');
    expect(h.agent.killExecutorProcess(FRAMEWORK_ID, 'f1')).toBe(true);
    const failed = await h.master.waitUpdate('f1', 'TASK_FAILED');
    expect(failed).toMatchObject({
      source: 'SOURCE_AGENT',
      reason: 'REASON_EXECUTOR_TERMINATED',
      message: 'Executor terminated',
    });
    await waitFor('executor gone', () => h!.agent.pidOf(FRAMEWORK_ID, 'f1') === undefined);
    expect(h.master.exited).toEqual([]);
  });
});
