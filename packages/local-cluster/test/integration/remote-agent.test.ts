/**
 * Agents that talk to the master over HTTP (`/mesoskit/agent`): in this process through
 * `startRemoteAgent`, and as their own process (`mesoskit-local agent --master URL`) next to a
 * master started with `--no-agents`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type mesos, parseResources } from '@mesoskit/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalCluster, type RemoteAgent, startLocalCluster, startRemoteAgent } from '../../src/index.js';
import { frameworkInfo, rawRequest, type Session, session } from '../master/helpers.js';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const RECOVERING = fileURLToPath(new URL('./fixtures/recovering-executor.mjs', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A port that was free a moment ago (the agent must come back on the same one). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
const WAIT = 10_000;

let cluster: LocalCluster | undefined;
let remote: RemoteAgent | undefined;
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await remote?.stop();
  remote = undefined;
  await cluster?.stop();
  cluster = undefined;
  // SIGINT first, so that a CLI removes the temporary work dir it made; SIGKILL if it hangs.
  await Promise.all(children.splice(0).map((c) => stopChild(c)));
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
  c.kill('SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), 5000);
  });
  if ((await Promise.race([exited, late])) === 'late') {
    c.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}

async function ack(s: Session, status: mesos.v1.TaskStatus): Promise<void> {
  const res = await s.call({
    type: 'ACKNOWLEDGE',
    acknowledge: { agent_id: status.agent_id!, task_id: status.task_id, uuid: status.uuid! },
  });
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

/** Polls an async condition every 100 ms; rejects after `timeoutMs` saying what did not happen. */
async function until(what: string, probe: () => Promise<boolean>, timeoutMs = WAIT): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

type State = { slaves: { id: string; active: boolean }[] };
const state = async (url: string): Promise<State> =>
  (await (await fetch(`${url}/master/state`)).json()) as State;

describe('startRemoteAgent (the HTTP agent link)', () => {
  it('registers over HTTP and runs a command task with acknowledgements both ways', async () => {
    cluster = await startLocalCluster({ agents: 0 });
    remote = await startRemoteAgent({ masterUrl: cluster.masterUrl });
    expect((await state(cluster.masterUrl)).slaves).toEqual([
      expect.objectContaining({ id: remote.agentId, active: true }),
    ]);
    const s = await session(cluster.masterUrl, frameworkInfo({ name: 'remote' }));
    const [offer] = await s.stream.offers();
    expect(offer!.agent_id.value).toBe(remote.agentId);
    await s.launch(offer!.id.value, [commandTask('rt', offer!, 'exit 0')]);
    const states: string[] = [];
    for (;;) {
      const status = await s.stream.update('rt', WAIT);
      states.push(status.state);
      await ack(s, status);
      if (status.state === 'TASK_FINISHED') break;
    }
    expect(states).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
    s.stream.close();
  });

  it('re-registers by itself after a master restart, with its tasks', async () => {
    cluster = await startLocalCluster({ agents: 0 });
    remote = await startRemoteAgent({ masterUrl: cluster.masterUrl });
    const info = frameworkInfo({ name: 'remote-failover', checkpoint: true, failover_timeout: 3600 });
    const s = await session(cluster.masterUrl, info);
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [commandTask('long', offer!, 'sleep 100')]);
    await ack(s, await s.stream.update('long', WAIT)); // STARTING
    const running = await s.stream.update('long', WAIT);
    expect(running.state).toBe('TASK_RUNNING');
    await ack(s, running);

    await cluster.faults.restartMaster();
    await s.stream.end(WAIT);
    const again = await session(cluster.masterUrl, info, { frameworkId: s.frameworkId });
    // The agent re-registers on its own (retrying with backoff): then the task is known again,
    // and an implicit reconciliation reports it.
    await until('the re-registered agent to report its task', async () => {
      await again.call({ type: 'RECONCILE', reconcile: { tasks: [] } });
      return again.stream.events.some(
        (e) => e.type === 'UPDATE' && e.update?.status.task_id.value === 'long',
      );
    });
    const reconciled = await again.stream.update('long', WAIT);
    expect(reconciled).toMatchObject({ state: 'TASK_RUNNING', agent_id: { value: remote.agentId } });
    again.stream.close();
  });

  it('answers bad agent-link requests with 4xx and a message', async () => {
    cluster = await startLocalCluster({ agents: 0 });
    const url = `${cluster.masterUrl}/mesoskit/agent`;
    const post = (body: string, type = 'application/json') =>
      rawRequest(cluster!.masterUrl, { path: '/mesoskit/agent', headers: { 'Content-Type': type }, body });
    expect((await fetch(url)).status).toBe(405);
    expect((await post('{}', 'text/plain')).status).toBe(415);
    const garbage = await post('{not json');
    expect(garbage.status).toBe(400);
    expect(garbage.body).toContain('Failed to parse body into JSON');
    const noPort = await post(
      JSON.stringify({ type: 'REGISTER', registration: { hostname: 'h', ip: '127.0.0.1', resources: [] } }),
    );
    expect(noPort.status).toBe(400);
    expect(noPort.body).toContain("'registration.port'");
    const unknown = await post(JSON.stringify({ type: 'PONG', agentId: 'nobody' }));
    expect(unknown.status).toBe(404);
    expect((await post(JSON.stringify({ type: 'EXPLODE' }))).status).toBe(400);
    // Batches: every call is checked before any is applied.
    const empty = await post('[]');
    expect(empty.status).toBe(400);
    expect(empty.body).toContain('an empty array');
    const badSecond = await post(JSON.stringify([{ type: 'PONG', agentId: 'nobody' }, { type: 'EXPLODE' }]));
    expect(badSecond.status).toBe(400);
    expect(badSecond.body).toContain('(call 1)');
    const registerInBatch = await post(
      JSON.stringify([
        { type: 'REGISTER', registration: { hostname: 'h', ip: '127.0.0.1', port: 1, resources: [] } },
        { type: 'REGISTER', registration: { hostname: 'h', ip: '127.0.0.1', port: 1, resources: [] } },
      ]),
    );
    expect(registerInBatch.status).toBe(400);
    expect(registerInBatch.body).toContain('REGISTER cannot be batched');
    expect((await fetch(`${cluster.masterUrl}/health`)).status).toBe(200);
  });
});

function run(args: string[]): { child: ChildProcess; line: (re: RegExp) => Promise<string> } {
  const c = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(c);
  let out = '';
  const waiters: (() => void)[] = [];
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  };
  c.stdout!.on('data', onData);
  c.stderr!.on('data', onData);
  const line = (re: RegExp): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no output matching ${re} within 15 s; got: ${out}`)),
        15_000,
      );
      const check = (): void => {
        const m = re.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1] ?? m[0]);
        } else waiters.push(check);
      };
      check();
    });
  return { child: c, line };
}

describe('mesoskit-local agent --master URL', () => {
  it('runs an agent process for a master started with --no-agents; restarted on its work dir it keeps its id', async () => {
    const master = run(['--no-agents', '--port', '0']);
    const url = await master.line(/(http:\/\/127\.0\.0\.1:\d+)/);
    const workDir = await mkdtemp(join(tmpdir(), 'mesoskit-agent-cli-'));
    dirs.push(workDir);
    const args = ['agent', '--master', url, '--port', '0', '--work-dir', workDir];

    const first = run(args);
    const id = await first.line(/agent: (\S+) at http/);
    expect((await state(url)).slaves).toEqual([expect.objectContaining({ id, active: true })]);
    first.child.kill('SIGINT');
    expect((await once(first.child, 'exit'))[0]).toBe(0);
    // Its connection closed: the master sees the agent disconnected.
    await until('the master to see the stopped agent disconnected', async () => {
      const slaves = (await state(url)).slaves;
      return slaves.length === 1 && slaves[0]!.id === id && !slaves[0]!.active;
    });

    const second = run(args);
    expect(await second.line(/agent: (\S+) at http/)).toBe(id);
    expect((await state(url)).slaves).toEqual([expect.objectContaining({ id, active: true })]);
    second.child.kill('SIGINT');
    await once(second.child, 'exit');
    master.child.kill('SIGINT');
    expect((await once(master.child, 'exit'))[0]).toBe(0);
  });

  it('an agent process killed with SIGKILL and started again on its work dir and port recovers its executor', async () => {
    const master = run(['--no-agents', '--port', '0']);
    const url = await master.line(/(http:\/\/127\.0\.0\.1:\d+)/);
    const workDir = await mkdtemp(join(tmpdir(), 'mesoskit-agent-cli-'));
    dirs.push(workDir);
    const port = await freePort();
    const args = [
      'agent',
      '--master',
      url,
      '--port',
      String(port),
      '--work-dir',
      workDir,
      // The fixture re-subscribes every 50 ms; a long window keeps a loaded machine from racing it.
      '--executor-reregistration-timeout',
      '10secs',
    ];
    const first = run(args);
    const id = await first.line(/agent: (\S+) at http/);

    const info = frameworkInfo({ name: 'kill-9', checkpoint: true, failover_timeout: 3600 });
    const s = await session(url, info);
    const [offer] = await s.stream.offers(WAIT);
    const executor: mesos.v1.ExecutorInfo = {
      executor_id: { value: 'recovering' },
      framework_id: { value: s.frameworkId },
      command: { value: `exec node ${RECOVERING}` },
      resources: parseResources('cpus:0.1;mem:32'),
    };
    await s.launch(offer!.id.value, [
      { ...commandTask('k9', offer!, ''), command: undefined, executor } as mesos.v1.TaskInfo,
    ]);
    const running = await s.stream.update('k9', WAIT);
    expect(running.state).toBe('TASK_RUNNING');
    await ack(s, running);
    const pid = running.container_status!.executor_pid!;

    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    expect(alive(pid)).toBe(true);
    const second = run(args);
    expect(await second.line(/agent: (\S+) at http/)).toBe(id);
    // The acknowledgement of TASK_RUNNING may not have reached the killed agent (it travels
    // master → agent asynchronously): then the new agent resends TASK_RUNNING, and TASK_FINISHED
    // waits behind it until it is acknowledged again. Messages are best effort and reach only
    // a subscribed executor: acknowledge what came, ask again, until the task finished.
    const acked = new Set<string>();
    let finished: mesos.v1.TaskStatus | undefined;
    await until('the recovered executor to finish its task', async () => {
      for (const e of s.stream.events) {
        const status = e.type === 'UPDATE' ? e.update?.status : undefined;
        if (status?.task_id.value !== 'k9' || !status.uuid) continue;
        if (status.state === 'TASK_FINISHED') finished = status;
        const key = Buffer.from(status.uuid).toString('hex');
        if (!acked.has(key)) {
          acked.add(key);
          await ack(s, status);
        }
      }
      if (finished) return true;
      await s.call({
        type: 'MESSAGE',
        message: {
          agent_id: offer!.agent_id,
          executor_id: { value: 'recovering' },
          data: Buffer.from('finish:k9'),
        },
      });
      return false;
    });
    expect(finished).toMatchObject({ state: 'TASK_FINISHED', source: 'SOURCE_EXECUTOR' });
    expect(finished!.container_status?.executor_pid).toBe(pid);
    s.stream.close();
    second.child.kill('SIGINT');
    await once(second.child, 'exit');
  });

  it('refuses a missing --master with a one-line message and exit code 2', async () => {
    const cli = run(['agent', '--port', '0']);
    const [code] = await once(cli.child, 'exit');
    expect(code).toBe(2);
  });
});
