/**
 * Fault injection on the whole cluster, over raw HTTP, with real executor processes: agent
 * restart with checkpoint recovery, master restart (failover without a registry) and agent
 * partitions. Status updates are at-least-once: the helpers skip duplicates by uuid.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type mesos, parseResources } from '@mesoskit/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { readTaskLog } from '../../src/agent/task-log.js';
import { type LocalCluster, type LocalClusterOptions, startLocalCluster } from '../../src/index.js';
import { waitFor } from '../agent/helpers.js';
import { frameworkInfo, type Session, session } from '../master/helpers.js';

const EXECUTOR = fileURLToPath(new URL('./fixtures/recovering-executor.mjs', import.meta.url));
const EXECUTOR_ID = 'recovering';
const WAIT = 10_000;

let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

async function start(options: Partial<LocalClusterOptions> = {}): Promise<LocalCluster> {
  cluster = await startLocalCluster({
    agents: 1,
    executorShutdownGracePeriodMs: 1000,
    // The fixture re-subscribes every 50 ms; a long window keeps a loaded machine from racing it.
    executorReregistrationTimeoutMs: 10_000,
    ...options,
  });
  return cluster;
}

function task(
  id: string,
  offer: mesos.v1.Offer,
  frameworkId: string,
  env: Record<string, string> = {},
): mesos.v1.TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: offer.agent_id,
    resources: parseResources('cpus:0.1;mem:32'),
    executor: {
      executor_id: { value: EXECUTOR_ID },
      framework_id: { value: frameworkId },
      command: {
        value: `exec node ${EXECUTOR}`,
        environment: { variables: Object.entries(env).map(([name, value]) => ({ name, value })) },
      },
      resources: parseResources('cpus:0.1;mem:32'),
    },
  };
}

/** Reads a task's updates, skipping any uuid already seen (updates are at-least-once). */
class Updates {
  readonly #seen = new Set<string>();
  constructor(private readonly s: Session) {}

  async next(taskId: string, timeoutMs = WAIT): Promise<mesos.v1.TaskStatus> {
    for (;;) {
      const status = await this.s.stream.update(taskId, timeoutMs);
      if (!status.uuid) return status;
      const key = Buffer.from(status.uuid).toString('hex');
      if (this.#seen.has(key)) continue;
      this.#seen.add(key);
      return status;
    }
  }
}

async function ack(s: Session, status: mesos.v1.TaskStatus): Promise<void> {
  const res = await s.call({
    type: 'ACKNOWLEDGE',
    acknowledge: { agent_id: status.agent_id!, task_id: status.task_id, uuid: status.uuid! },
  });
  expect(res.status).toBe(202);
}

async function message(s: Session, agentId: string, text: string): Promise<void> {
  const res = await s.call({
    type: 'MESSAGE',
    message: { agent_id: { value: agentId }, executor_id: { value: EXECUTOR_ID }, data: Buffer.from(text) },
  });
  expect(res.status).toBe(202);
}

/** Polls an async condition every 20 ms; rejects after `timeoutMs` saying what did not happen. */
async function until(what: string, probe: () => Promise<boolean>, timeoutMs = WAIT): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until the agent's executor is subscribed (state RUNNING) and returns its pid. */
function subscribedExecutor(c: LocalCluster, what: string): Promise<number> {
  return waitFor(
    what,
    () => {
      const e = c.agents[0]!.executors().find((x) => x.executorId === EXECUTOR_ID);
      return e?.state === 'RUNNING' ? e.pid : undefined;
    },
    WAIT,
  );
}

const checkpointing = (name: string, extra: Partial<mesos.v1.FrameworkInfo> = {}) =>
  frameworkInfo({ name, checkpoint: true, failover_timeout: 3600, ...extra });

describe('restartAgent', () => {
  it('keeps a checkpointing framework’s executor: same agent id, the executor re-subscribes, the task finishes once', async () => {
    const c = await start();
    const s = await session(c.masterUrl, checkpointing('restart'));
    const updates = new Updates(s);
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [task('r1', offer!, s.frameworkId)]);
    const running = await updates.next('r1');
    expect(running.state).toBe('TASK_RUNNING');
    await ack(s, running);
    const pid = await subscribedExecutor(c, 'the executor to subscribe');

    await c.faults.restartAgent(0, { downMs: 100 });
    expect(c.agents[0]!.id).toBe(offer!.agent_id.value);
    expect(await subscribedExecutor(c, 'the executor to re-subscribe after the restart')).toBe(pid);
    const state = (await c.state()) as { slaves: { id: string; active: boolean }[] };
    expect(state.slaves).toEqual([expect.objectContaining({ id: offer!.agent_id.value, active: true })]);

    await message(s, offer!.agent_id.value, 'finish:r1');
    const finished = await updates.next('r1');
    expect(finished).toMatchObject({ state: 'TASK_FINISHED', source: 'SOURCE_EXECUTOR' });
    expect(Buffer.from(finished.data!).toString()).toBe('done:r1');
    await ack(s, finished);
    s.stream.close();
  });

  it('with executor authentication, the executor’s token stays valid across the restart', async () => {
    const c = await start({ executorAuthentication: true });
    const s = await session(c.masterUrl, checkpointing('restart-auth'));
    const updates = new Updates(s);
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [task('ra', offer!, s.frameworkId)]);
    await ack(s, await updates.next('ra'));
    const pid = await subscribedExecutor(c, 'the executor to subscribe');
    await c.faults.restartAgent(0);
    expect(await subscribedExecutor(c, 'the executor to re-subscribe with its token')).toBe(pid);
    await message(s, offer!.agent_id.value, 'finish:ra');
    expect((await updates.next('ra')).state).toBe('TASK_FINISHED');
    s.stream.close();
  });

  it('resends an update the scheduler had not acknowledged, from the checkpoint, without waiting 10 s', async () => {
    const c = await start();
    const s = await session(c.masterUrl, checkpointing('resend'));
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [task('r2', offer!, s.frameworkId)]);
    const running = await s.stream.update('r2', WAIT);
    expect(running.state).toBe('TASK_RUNNING');
    await subscribedExecutor(c, 'the executor to subscribe');

    await c.faults.restartAgent(offer!.agent_id.value);
    const again = await s.stream.update('r2', 5000);
    expect(again.state).toBe('TASK_RUNNING');
    expect(Buffer.from(again.uuid!).equals(Buffer.from(running.uuid!))).toBe(true);
    await ack(s, again);
    // The checkpoint on disk has the layout Mesos uses (capture 17), but for one log of the
    // run's tasks where Mesos has a directory per task.
    const meta = join(c.agents[0]!.workDir, 'meta', 'slaves', offer!.agent_id.value);
    const run = join(meta, 'frameworks', s.frameworkId, 'executors', EXECUTOR_ID, 'runs', 'latest');
    for (const file of ['slave.info', `frameworks/${s.frameworkId}/framework.info`]) {
      expect(existsSync(join(meta, file)), file).toBe(true);
    }
    expect(readFileSync(join(run, 'pids', 'forked.pid'), 'utf8')).toMatch(/^\d+$/);
    const logged = readTaskLog(run).tasks;
    expect([...logged.keys()]).toEqual(['r2']);
    expect(logged.get('r2')!.updates.map((u) => u.state)).toContain('TASK_RUNNING');
    s.stream.close();
  });

  it('recovers a command task: the agent watches its command again and can kill it', async () => {
    const c = await start();
    const s = await session(
      c.masterUrl,
      checkpointing('command', { capabilities: [{ type: 'TASK_KILLING_STATE' }] }),
    );
    const updates = new Updates(s);
    const [offer] = await s.stream.offers();
    const command: mesos.v1.TaskInfo = {
      name: 'cmd',
      task_id: { value: 'cmd' },
      agent_id: offer!.agent_id,
      resources: parseResources('cpus:0.1;mem:32'),
      command: { value: 'sleep 100' },
    };
    await s.launch(offer!.id.value, [command]);
    await ack(s, await updates.next('cmd')); // STARTING
    const running = await updates.next('cmd');
    expect(running.state).toBe('TASK_RUNNING');
    await ack(s, running);
    const pid = running.container_status!.executor_pid!;

    await c.faults.restartAgent(0, { downMs: 100 });
    expect(alive(pid)).toBe(true);
    expect(c.agents[0]!.executors()).toEqual([
      expect.objectContaining({ executorId: 'cmd', command: true, state: 'RUNNING', pid }),
    ]);
    await s.call({ type: 'KILL', kill: { task_id: { value: 'cmd' }, agent_id: offer!.agent_id } });
    const killing = await updates.next('cmd');
    expect(killing.state).toBe('TASK_KILLING');
    await ack(s, killing);
    const killed = await updates.next('cmd');
    expect(killed).toMatchObject({
      state: 'TASK_KILLED',
      message: 'Command terminated with signal Terminated',
    });
    await ack(s, killed);
    s.stream.close();
  });

  it('kills the executors of a framework without checkpoint; the master reports TASK_LOST', async () => {
    const c = await start();
    const s = await session(c.masterUrl, frameworkInfo({ name: 'no-checkpoint' }));
    const updates = new Updates(s);
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [task('n1', offer!, s.frameworkId)]);
    const running = await updates.next('n1');
    await ack(s, running);
    const pid = await subscribedExecutor(c, 'the executor to subscribe');

    await c.faults.restartAgent(0);
    expect(await updates.next('n1')).toMatchObject({
      state: 'TASK_LOST',
      source: 'SOURCE_MASTER',
      reason: 'REASON_AGENT_DISCONNECTED',
    });
    expect(alive(pid)).toBe(false);
    expect(c.agents[0]!.executors()).toEqual([]);
    s.stream.close();
  });

  it('an executor that does not re-subscribe in time is killed: TASK_GONE, REASON_EXECUTOR_REREGISTRATION_TIMEOUT', async () => {
    const c = await start({ executorReregistrationTimeoutMs: 300 });
    const s = await session(
      c.masterUrl,
      checkpointing('late', { capabilities: [{ type: 'PARTITION_AWARE' }] }),
    );
    const updates = new Updates(s);
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [
      task('g1', offer!, s.frameworkId, { TEST_EXECUTOR_NO_RESUBSCRIBE: '1' }),
    ]);
    await ack(s, await updates.next('g1'));
    const pid = await subscribedExecutor(c, 'the executor to subscribe');

    await c.faults.restartAgent(0);
    const gone = await updates.next('g1');
    expect(gone).toMatchObject({
      state: 'TASK_GONE',
      source: 'SOURCE_AGENT',
      reason: 'REASON_EXECUTOR_REREGISTRATION_TIMEOUT',
      message: 'Executor did not reregister within 300ms',
    });
    await ack(s, gone);
    const failure = await s.stream.next('FAILURE', WAIT);
    expect(failure.failure?.executor_id?.value).toBe(EXECUTOR_ID);
    await waitFor(`executor ${pid} to be killed`, () => !alive(pid), WAIT);
    s.stream.close();
  });

  it('an agent down longer than agentReregisterTimeoutMs is unreachable, then back with its tasks', async () => {
    const c = await start({ agentReregisterTimeoutMs: 100 });
    const s = await session(
      c.masterUrl,
      checkpointing('long-down', { capabilities: [{ type: 'PARTITION_AWARE' }] }),
    );
    const updates = new Updates(s);
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [task('ld', offer!, s.frameworkId)]);
    await ack(s, await updates.next('ld'));
    const pid = await subscribedExecutor(c, 'the executor to subscribe');

    const restarted = c.faults.restartAgent(0, { downMs: 3000 });
    expect(await updates.next('ld')).toMatchObject({ state: 'TASK_UNREACHABLE', source: 'SOURCE_MASTER' });
    await restarted;
    expect(await updates.next('ld')).toMatchObject({
      state: 'TASK_RUNNING',
      reason: 'REASON_AGENT_REREGISTERED',
    });
    expect(await subscribedExecutor(c, 'the executor to re-subscribe')).toBe(pid);
    await message(s, offer!.agent_id.value, 'finish:ld');
    expect((await updates.next('ld')).state).toBe('TASK_FINISHED');
    s.stream.close();
  });

  it('a restart whose agent cannot come back (port taken) rejects and leaves no executor behind', async () => {
    const c = await start();
    const s = await session(c.masterUrl, checkpointing('port-taken'));
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [task('pt', offer!, s.frameworkId)]);
    await ack(s, await new Updates(s).next('pt'));
    const pid = await subscribedExecutor(c, 'the executor to subscribe');
    const port = Number(new URL(c.agents[0]!.url).port);
    const squatter = createServer();
    const restarted = c.faults.restartAgent(0, { downMs: 300 });
    // Take the agent's port while it is down.
    await until(
      'the agent port to be free for the squatter',
      () =>
        new Promise<boolean>((resolve) => {
          squatter.once('error', () => resolve(false));
          squatter.listen(port, '127.0.0.1', () => resolve(true));
        }),
    );
    await expect(restarted).rejects.toThrow(/EADDRINUSE/);
    await waitFor(`executor ${pid} to be killed`, () => !alive(pid), WAIT);
    await new Promise((resolve) => squatter.close(resolve));
    s.stream.close();
  });

  it('rejects an unknown agent with a typed error', async () => {
    const c = await start();
    await expect(c.faults.restartAgent(7)).rejects.toThrow(/no agent 7/);
    await expect(c.faults.resumeAgent(-1)).rejects.toThrow(/no agent -1/);
    expect(() => c.faults.pauseAgent('nope')).toThrow(/no agent nope/);
  });
});

describe('restartMaster', () => {
  it('ends scheduler streams; the framework re-subscribes with its id, keeps its task and gets the pending update', async () => {
    const c = await start();
    const info = checkpointing('master-failover');
    const s = await session(c.masterUrl, info);
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [task('m1', offer!, s.frameworkId)]);
    const running = await s.stream.update('m1', WAIT); // not acknowledged
    expect(running.state).toBe('TASK_RUNNING');
    await subscribedExecutor(c, 'the executor to subscribe');

    const restarted = c.faults.restartMaster({ downMs: 1000 });
    await s.stream.end(WAIT);
    // While it is down, calls are refused (connection refused).
    await expect(fetch(`${c.masterUrl}/health`)).rejects.toThrow();
    await restarted;
    const again = await session(c.masterUrl, info, { frameworkId: s.frameworkId });
    expect(again.frameworkId).toBe(s.frameworkId);
    const updates = new Updates(again);
    const resent = await updates.next('m1');
    expect(resent.state).toBe('TASK_RUNNING');
    expect(Buffer.from(resent.uuid!).equals(Buffer.from(running.uuid!))).toBe(true);
    await ack(again, resent);

    await message(again, offer!.agent_id.value, 'finish:m1');
    const finished = await updates.next('m1');
    expect(finished.state).toBe('TASK_FINISHED');
    await ack(again, finished);
    again.stream.close();
  });
});

describe('pauseAgent / resumeAgent', () => {
  it('a partitioned agent’s tasks go TASK_UNREACHABLE (PARTITION_AWARE) or TASK_LOST, and TASK_RUNNING when it is back', async () => {
    const c = await start({ agentPingTimeoutMs: 50, maxAgentPingTimeouts: 3 });
    const aware = await session(
      c.masterUrl,
      checkpointing('aware', { capabilities: [{ type: 'PARTITION_AWARE' }] }),
    );
    const awareUpdates = new Updates(aware);
    const [offer] = await aware.stream.offers();
    await aware.launch(offer!.id.value, [task('p1', offer!, aware.frameworkId)]);
    await ack(aware, await awareUpdates.next('p1'));
    await subscribedExecutor(c, 'the executor to subscribe');

    c.faults.pauseAgent(0);
    const unreachable = await awareUpdates.next('p1');
    expect(unreachable).toMatchObject({
      state: 'TASK_UNREACHABLE',
      source: 'SOURCE_MASTER',
      reason: 'REASON_AGENT_REMOVED',
    });
    expect(unreachable.uuid).toBeUndefined();
    // The executor still runs and its task still answers once the partition heals.
    await c.faults.resumeAgent(0);
    expect(await awareUpdates.next('p1')).toMatchObject({
      state: 'TASK_RUNNING',
      reason: 'REASON_AGENT_REREGISTERED',
    });
    await message(aware, offer!.agent_id.value, 'finish:p1');
    const finished = await awareUpdates.next('p1');
    expect(finished.state).toBe('TASK_FINISHED');
    await ack(aware, finished);
    aware.stream.close();
  });
});
