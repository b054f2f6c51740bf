/**
 * The whole local cluster (master + agents + real executor processes), spoken to only over raw
 * HTTP, the way any third-party Mesos scheduler would: subscribe, take offers, launch command
 * tasks and custom-executor tasks, acknowledge updates, tear down.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type mesos, parseResources } from '@mesoskit/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalCluster, type LocalClusterOptions, startLocalCluster } from '../../src/index.js';
import { FIXTURE, waitFor } from '../agent/helpers.js';
import { type Encoding, frameworkInfo, type Session, session } from '../master/helpers.js';

let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

async function start(agents = 1, options: Partial<LocalClusterOptions> = {}): Promise<LocalCluster> {
  cluster = await startLocalCluster({
    agents,
    executorShutdownGracePeriodMs: 1000,
    // Mesos' own 10 s resend: no test here waits for a resend, and a shorter one could deliver
    // a duplicate (status updates are at-least-once) before a slow acknowledgement lands.
    ...options,
  });
  return cluster;
}

async function ack(s: Session, status: mesos.v1.TaskStatus, encoding: Encoding = 'json'): Promise<void> {
  expect(status.uuid, `${status.state} of ${status.task_id.value} has no uuid`).toBeInstanceOf(Uint8Array);
  const res = await s.call(
    {
      type: 'ACKNOWLEDGE',
      acknowledge: { agent_id: status.agent_id!, task_id: status.task_id, uuid: status.uuid! },
    },
    encoding,
  );
  expect(res.status).toBe(202);
}

function commandTask(id: string, offer: mesos.v1.Offer, command: string): mesos.v1.TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: offer.agent_id,
    resources: parseResources('cpus:0.1;mem:32'),
    command: { value: command },
  };
}

function executorTask(
  id: string,
  offer: mesos.v1.Offer,
  frameworkId: string,
  mode: string,
): mesos.v1.TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: offer.agent_id,
    resources: parseResources('cpus:0.1;mem:32'),
    data: Buffer.from(JSON.stringify({ mode })),
    executor: {
      executor_id: { value: 'test-executor' },
      framework_id: { value: frameworkId },
      command: { value: `exec node ${FIXTURE}` },
      resources: parseResources('cpus:0.1;mem:32'),
    },
  };
}

describe('the local cluster, over raw HTTP', () => {
  for (const encoding of ['json', 'protobuf'] as const) {
    it(`runs a command task to TASK_FINISHED, one acknowledged update at a time (${encoding})`, async () => {
      const c = await start();
      const s = await session(c.masterUrl, frameworkInfo({ name: `command-${encoding}` }), { encoding });
      const [offer] = await s.stream.offers();
      expect(offer!.agent_id.value).toBe(c.agents[0]!.id);

      expect((await s.launch(offer!.id.value, [commandTask('t1', offer!, 'echo hi; exit 0')])).status).toBe(
        202,
      );
      const starting = await s.stream.update('t1', 5000);
      expect(starting.state).toBe('TASK_STARTING');
      await ack(s, starting, encoding);
      const running = await s.stream.update('t1', 5000);
      expect(running.state).toBe('TASK_RUNNING');
      await ack(s, running, encoding);
      const finished = await s.stream.update('t1', 5000);
      expect(finished).toMatchObject({
        state: 'TASK_FINISHED',
        message: 'Command exited with status 0',
        source: 'SOURCE_EXECUTOR',
      });
      await ack(s, finished, encoding);

      const sandbox = join(
        c.agents[0]!.workDir,
        'slaves',
        c.agents[0]!.id,
        'frameworks',
        s.frameworkId,
        'executors',
        't1',
        'runs',
        'latest',
      );
      expect(readFileSync(join(sandbox, 'stdout'), 'utf8')).toContain('hi');
      s.stream.close();
    });
  }

  it('reports a failing command with its exit code and no reason, as Mesos does', async () => {
    const c = await start();
    const s = await session(c.masterUrl, frameworkInfo({ name: 'exit3' }));
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [commandTask('t2', offer!, 'exit 3')]);
    let status = await s.stream.update('t2', 5000);
    while (status.state !== 'TASK_FAILED') {
      await ack(s, status);
      status = await s.stream.update('t2', 5000);
    }
    expect(status.message).toBe('Command exited with status 3');
    expect(status.reason).toBeUndefined();
    s.stream.close();
  });

  it('runs a custom executor task and returns its data; SHUTDOWN ends the executor with a FAILURE event', async () => {
    const c = await start();
    const s = await session(c.masterUrl, frameworkInfo({ name: 'custom' }));
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [executorTask('e1', offer!, s.frameworkId, 'finish')]);
    const running = await s.stream.update('e1', 10_000);
    expect(running.state).toBe('TASK_RUNNING');
    await ack(s, running);
    const finished = await s.stream.update('e1', 5000);
    expect(finished.state).toBe('TASK_FINISHED');
    expect([...finished.data!]).toEqual([0, 1, 2, 0xfe, 0xff]);
    await ack(s, finished);

    await s.call({
      type: 'SHUTDOWN',
      shutdown: { executor_id: { value: 'test-executor' }, agent_id: offer!.agent_id },
    });
    const failure = await s.stream.next('FAILURE', 5000);
    expect(failure.failure).toMatchObject({ executor_id: { value: 'test-executor' }, status: 0 });
    s.stream.close();
  });

  it('turns a killed executor into FAILURE and TASK_FAILED (REASON_EXECUTOR_TERMINATED)', async () => {
    const c = await start();
    const s = await session(c.masterUrl, frameworkInfo({ name: 'crash' }));
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [executorTask('e2', offer!, s.frameworkId, 'run')]);
    const running = await s.stream.update('e2', 10_000);
    expect(running.state).toBe('TASK_RUNNING');
    await ack(s, running);

    expect(c.faults.killExecutor(s.frameworkId, 'test-executor')).toBe(true);
    // As in the real-Mesos capture: FAILURE first (raw wait status 9 = SIGKILL), then the update.
    const failure = await s.stream.next('FAILURE', 5000);
    expect(failure.failure?.status).toBe(9);
    const failed = await s.stream.update('e2', 5000);
    expect(failed).toMatchObject({
      state: 'TASK_FAILED',
      source: 'SOURCE_AGENT',
      reason: 'REASON_EXECUTOR_TERMINATED',
      message: 'Executor terminated',
    });
    await ack(s, failed);
    s.stream.close();
  });

  it('TEARDOWN ends the stream and kills the framework’s processes', async () => {
    const c = await start();
    const s = await session(c.masterUrl, frameworkInfo({ name: 'teardown' }));
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [commandTask('t3', offer!, 'sleep 100')]);
    const starting = await s.stream.update('t3', 5000);
    await ack(s, starting);
    const running = await s.stream.update('t3', 5000);
    expect(running.state).toBe('TASK_RUNNING');
    const pid = running.container_status?.executor_pid;
    expect(pid).toBeGreaterThan(0);

    expect((await s.call({ type: 'TEARDOWN' })).status).toBe(202);
    await s.stream.end(5000);
    // The sleep's process group goes away within the shutdown grace period (1 s here).
    await waitFor(`process ${pid} to exit after TEARDOWN`, () => !alive(pid!), 5000);
  });

  it('keeps a dropped framework’s tasks within failover_timeout and resends their updates on resubscribe', async () => {
    // Retries 60 s apart: only the resend that resubscribing triggers can arrive within 5 s.
    const c = await start(1, { statusUpdateRetryMs: { initialMs: 60_000, maxMs: 60_000 } });
    const info = frameworkInfo({ name: 'failover', failover_timeout: 60 });
    const s = await session(c.masterUrl, info);
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [commandTask('t5', offer!, 'sleep 100')]);
    const starting = await s.stream.update('t5', 5000);
    expect(starting.state).toBe('TASK_STARTING');

    // The connection breaks before the scheduler acknowledges TASK_STARTING.
    expect(c.faults.dropSubscription(s.frameworkId)).toBe(true);
    await s.stream.end(5000);
    const again = await session(c.masterUrl, info, { frameworkId: s.frameworkId });
    expect(again.frameworkId).toBe(s.frameworkId);
    expect(again.stream.streamId).not.toBe(s.stream.streamId);
    const resent = await again.stream.update('t5', 5000);
    expect(resent.state).toBe('TASK_STARTING');
    expect(Buffer.from(resent.uuid!).equals(Buffer.from(starting.uuid!))).toBe(true);
    await ack(again, resent);
    expect((await again.stream.update('t5', 5000)).state).toBe('TASK_RUNNING');
    again.stream.close();
  });

  it('offers every agent’s resources, one offer per agent', async () => {
    const c = await start(2);
    const s = await session(c.masterUrl, frameworkInfo({ name: 'two-agents' }));
    const offers: mesos.v1.Offer[] = [];
    while (offers.length < 2) offers.push(...(await s.stream.offers()));
    expect(new Set(offers.map((o) => o.agent_id.value))).toEqual(new Set(c.agents.map((a) => a.id)));
    s.stream.close();
  });

  it('stop() leaves no sandbox dir and no process behind', async () => {
    const c = await start();
    const s = await session(c.masterUrl, frameworkInfo({ name: 'stop' }));
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [commandTask('t4', offer!, 'sleep 100')]);
    const starting = await s.stream.update('t4', 5000);
    await ack(s, starting);
    const running = await s.stream.update('t4', 5000);
    const pid = running.container_status!.executor_pid!;
    const workDir = c.agents[0]!.workDir;
    s.stream.close();
    await c.stop();
    expect(alive(pid)).toBe(false);
    expect(existsSync(workDir)).toBe(false);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
