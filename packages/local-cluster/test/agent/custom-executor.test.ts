import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MESOS_DEFAULT_PATH } from '../../src/agent/index.js';
import {
  AGENT_ID,
  alive,
  FIXTURE,
  FRAMEWORK_ID,
  frameworkInfo,
  type Harness,
  startAgent,
  task,
  testExecutor,
  waitFor,
} from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

function readEnvDump(sandbox: string): {
  argv: string[];
  argv0: string;
  cwd: string;
  env: Record<string, string>;
} {
  return JSON.parse(readFileSync(join(sandbox, 'executor-env.json'), 'utf8'));
}

describe('custom executors', () => {
  it('launches the executor with the Mesos environment, sandbox and event flow', async () => {
    h = await startAgent();
    const { agent, master } = h;
    expect(master.registration).toMatchObject({ hostname: 'localhost', ip: '127.0.0.1', port: agent.port });
    agent.runTask({
      framework: frameworkInfo(),
      task: task('t1', 'finish', testExecutor('exec-1', { EXTRA: 'x' })),
    });
    const running = await master.waitUpdate('t1', 'TASK_RUNNING');
    const finished = await master.waitUpdate('t1', 'TASK_FINISHED');
    expect(master.statesOf('t1')).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);

    const sandbox = agent.sandboxOf(FRAMEWORK_ID, 'exec-1')!;
    const containerId = sandbox.split('/').at(-1)!;
    expect(sandbox).toBe(
      join(
        h.workDir,
        'slaves',
        AGENT_ID,
        'frameworks',
        FRAMEWORK_ID,
        'executors',
        'exec-1',
        'runs',
        containerId,
      ),
    );
    expect(containerId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(readlinkSync(join(dirname(sandbox), 'latest'))).toBe(sandbox);
    expect(readFileSync(join(sandbox, 'stdout'), 'utf8')).toBe('test executor started\n');
    expect(readFileSync(join(sandbox, 'stderr'), 'utf8')).toBe('test executor stderr\n');

    // The environment, compared with capture 04 (checkpoint off) modulo ids, paths and ports.
    const dump = readEnvDump(sandbox);
    expect(dump.cwd).toBe(sandbox);
    const { PWD, ...env } = dump.env;
    expect(PWD).toBe(sandbox);
    expect(env).toEqual({
      MESOS_EXECUTOR_ID: 'exec-1',
      MESOS_CHECKPOINT: '0',
      MESOS_HTTP_COMMAND_EXECUTOR: '0',
      MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: '5secs',
      LIBPROCESS_PORT: '0',
      MESOS_AGENT_ENDPOINT: `127.0.0.1:${agent.port}`,
      // Mesos' PATH; node's directory goes first only when it is not in it already.
      PATH: MESOS_DEFAULT_PATH.split(':').includes(dirname(process.execPath))
        ? MESOS_DEFAULT_PATH
        : `${dirname(process.execPath)}:${MESOS_DEFAULT_PATH}`,
      MESOS_SANDBOX: sandbox,
      MESOS_FRAMEWORK_ID: FRAMEWORK_ID,
      MESOS_DIRECTORY: sandbox,
      MESOS_SLAVE_ID: AGENT_ID,
      MESOS_SLAVE_PID: `slave(1)@127.0.0.1:${agent.port}`,
      EXTRA: 'x',
      LIBPROCESS_IP: '127.0.0.1',
    });

    // What the scheduler would see (capture 04/05): agent_id, container_status, no executor_id.
    expect(running).toMatchObject({
      task_id: { value: 't1' },
      state: 'TASK_RUNNING',
      message: 'running finish',
      source: 'SOURCE_EXECUTOR',
      agent_id: { value: AGENT_ID },
      container_status: {
        container_id: { value: containerId },
        network_infos: [{ ip_addresses: [{ protocol: 'IPv4', ip_address: '127.0.0.1' }] }],
        executor_pid: agent.pidOf(FRAMEWORK_ID, 'exec-1'),
      },
    });
    expect(running.executor_id).toBeUndefined();
    expect(typeof running.timestamp).toBe('number');
    expect(running.uuid).toHaveLength(16);
    expect(Buffer.from(finished.data!)).toEqual(Buffer.from([0, 1, 2, 0xfe, 0xff]));
    expect(master.updates[0]!.latestState).toBe('TASK_RUNNING');
    expect(master.exited).toEqual([]);
  });

  it('passes the checkpointing variables and the ExecutorInfo grace period; executorEnvironment and CommandInfo override', async () => {
    h = await startAgent({ executorEnvironment: { FROM_AGENT: 'a', MESOS_CHECKPOINT: 'agent' } });
    const executor = testExecutor('exec-ck', { MESOS_CHECKPOINT: 'framework' });
    executor.shutdown_grace_period = { nanoseconds: 2_000_000_000 };
    h.agent.runTask({ framework: frameworkInfo({ checkpoint: true }), task: task('t1', 'run', executor) });
    await h.master.waitUpdate('t1', 'TASK_RUNNING');
    const { env } = readEnvDump(h.agent.sandboxOf(FRAMEWORK_ID, 'exec-ck')!);
    expect(env.MESOS_RECOVERY_TIMEOUT).toBe('15mins');
    expect(env.MESOS_SUBSCRIPTION_BACKOFF_MAX).toBe('2secs');
    expect(env.MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD).toBe('2secs');
    expect(env.FROM_AGENT).toBe('a');
    expect(env.MESOS_CHECKPOINT).toBe('framework');
    expect(h.agent.executors()).toEqual([
      expect.objectContaining({
        frameworkId: FRAMEWORK_ID,
        executorId: 'exec-ck',
        state: 'RUNNING',
        command: false,
        tasks: [{ taskId: 't1', state: 'TASK_RUNNING' }],
      }),
    ]);
  });

  it('an executorEnvironment PATH replaces the default PATH', async () => {
    h = await startAgent({ executorEnvironment: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin` } });
    h.agent.runTask({ framework: frameworkInfo(), task: task('t1', 'finish', testExecutor('exec-path')) });
    await h.master.waitUpdate('t1', 'TASK_FINISHED');
    const { env } = readEnvDump(h.agent.sandboxOf(FRAMEWORK_ID, 'exec-path')!);
    expect(env.PATH).toBe(`${dirname(process.execPath)}:/usr/bin:/bin`);
  });

  it('runs shell=false commands with arguments as the complete argv and serves protobuf executors on /slave(1)', async () => {
    h = await startAgent();
    const executor = testExecutor(
      'exec-argv',
      { TEST_EXECUTOR_ENCODING: 'protobuf', TEST_EXECUTOR_PID_URL: '1' },
      {
        shell: false,
        value: process.execPath,
        arguments: ['node-argv0', FIXTURE, 'extra-arg-1', 'extra arg 2'],
      },
    );
    h.agent.runTask({ framework: frameworkInfo(), task: task('t1', 'finish', executor) });
    await h.master.waitUpdate('t1', 'TASK_FINISHED');
    const dump = readEnvDump(h.agent.sandboxOf(FRAMEWORK_ID, 'exec-argv')!);
    expect(dump.argv.slice(1)).toEqual([FIXTURE, 'extra-arg-1', 'extra arg 2']);
    expect(dump.argv0).toBe('node-argv0');
  });

  it('reuses a running executor for a second task and forwards messages both ways', async () => {
    h = await startAgent();
    const { agent, master } = h;
    const executor = testExecutor('exec-m');
    agent.runTask({ framework: frameworkInfo(), task: task('t1', 'run', executor) });
    await master.waitUpdate('t1', 'TASK_RUNNING');
    const pid = agent.pidOf(FRAMEWORK_ID, 'exec-m');
    agent.runTask({ framework: frameworkInfo(), task: task('t2', 'message', executor) });
    await master.waitUpdate('t2', 'TASK_RUNNING');
    expect(agent.pidOf(FRAMEWORK_ID, 'exec-m')).toBe(pid);
    await waitFor('executor MESSAGE forwarded', () => master.messages.length === 1);
    expect(master.messages[0]).toEqual({
      frameworkId: FRAMEWORK_ID,
      executorId: 'exec-m',
      data: 'hello from t2',
    });
    agent.frameworkMessage(FRAMEWORK_ID, 'exec-m', Buffer.from('ping'));
    await waitFor('echo of the framework message', () => master.messages.length === 2);
    expect(master.messages[1]!.data).toBe('echo:ping');
  });

  it('sends KILL to the executor, which reports TASK_KILLED', async () => {
    h = await startAgent();
    h.agent.runTask({ framework: frameworkInfo(), task: task('t1', 'run', testExecutor('exec-k')) });
    await h.master.waitUpdate('t1', 'TASK_RUNNING');
    h.agent.killTask(FRAMEWORK_ID, 't1', { grace_period: { nanoseconds: 1000 } });
    const killed = await h.master.waitUpdate('t1', 'TASK_KILLED');
    expect(killed).toMatchObject({ source: 'SOURCE_EXECUTOR', message: 'killed by test executor' });
  });

  it('crash: running tasks get TASK_FAILED Executor terminated and the master gets exitedExecutor(256)', async () => {
    h = await startAgent();
    h.agent.runTask({ framework: frameworkInfo(), task: task('c1', 'crash', testExecutor('crash-exec')) });
    const failed = await h.master.waitUpdate('c1', 'TASK_FAILED');
    expect(failed).toMatchObject({
      task_id: { value: 'c1' },
      state: 'TASK_FAILED',
      message: 'Executor terminated',
      source: 'SOURCE_AGENT',
      reason: 'REASON_EXECUTOR_TERMINATED',
      agent_id: { value: AGENT_ID },
      executor_id: { value: 'crash-exec' },
    });
    expect(failed.uuid).toHaveLength(16);
    expect(failed.container_status).toBeUndefined();
    expect(h.master.exited).toEqual([{ frameworkId: FRAMEWORK_ID, executorId: 'crash-exec', status: 256 }]);
    // The same ExecutorID can be used again: a fresh executor.
    h.agent.runTask({ framework: frameworkInfo(), task: task('c2', 'finish', testExecutor('crash-exec')) });
    await h.master.waitUpdate('c2', 'TASK_FINISHED');
  });

  it('exit 0 with a running task is handled like a crash (capture 19c): exitedExecutor(0) + TASK_FAILED', async () => {
    h = await startAgent();
    h.agent.runTask({ framework: frameworkInfo(), task: task('x1', 'exit0', testExecutor('exit0-exec')) });
    expect((await h.master.waitUpdate('x1', 'TASK_FAILED')).message).toBe('Executor terminated');
    expect(h.master.exited).toEqual([{ frameworkId: FRAMEWORK_ID, executorId: 'exit0-exec', status: 0 }]);
    expect(h.agent.executors()).toEqual([]);
  });

  it('registration timeout: queued tasks fail and the process group is killed', async () => {
    h = await startAgent({ executorRegistrationTimeoutMs: 1000 });
    h.agent.runTask({
      framework: frameworkInfo(),
      task: task('n1', 'run', testExecutor('sleepy', { TEST_EXECUTOR_NEVER_SUBSCRIBE: '1' })),
    });
    await waitFor('executor process', () => h!.agent.pidOf(FRAMEWORK_ID, 'sleepy'));
    const pid = h.agent.pidOf(FRAMEWORK_ID, 'sleepy')!;
    const failed = await h.master.waitUpdate('n1', 'TASK_FAILED');
    expect(failed).toMatchObject({
      message: 'Executor did not register within 1secs',
      source: 'SOURCE_AGENT',
      reason: 'REASON_EXECUTOR_REGISTRATION_TIMEOUT',
      executor_id: { value: 'sleepy' },
    });
    expect(h.master.exited).toEqual([{ frameworkId: FRAMEWORK_ID, executorId: 'sleepy', status: 9 }]);
    await waitFor(`process group ${pid} gone`, () => !alive(-pid));
  });

  it('shutdownExecutor: SHUTDOWN, then SIGKILL of the process group after the grace period', async () => {
    h = await startAgent({ executorShutdownGracePeriodMs: 300 });
    h.agent.runTask({
      framework: frameworkInfo(),
      task: task('s1', 'run', testExecutor('stubborn', { TEST_EXECUTOR_IGNORE_SHUTDOWN: '1' })),
    });
    await h.master.waitUpdate('s1', 'TASK_RUNNING');
    const pid = h.agent.pidOf(FRAMEWORK_ID, 'stubborn')!;
    const started = Date.now();
    h.agent.shutdownExecutor(FRAMEWORK_ID, 'stubborn');
    await waitFor('exitedExecutor', () => h!.master.exited[0]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(h.master.exited[0]).toEqual({ frameworkId: FRAMEWORK_ID, executorId: 'stubborn', status: 9 });
    expect((await h.master.waitUpdate('s1', 'TASK_FAILED')).reason).toBe('REASON_EXECUTOR_TERMINATED');
    await waitFor(`process group ${pid} gone`, () => !alive(-pid));
  });

  it('shutdownExecutor of a cooperative executor: its own TASK_KILLED, exit 0', async () => {
    h = await startAgent();
    h.agent.runTask({ framework: frameworkInfo(), task: task('s1', 'run', testExecutor('nice')) });
    await h.master.waitUpdate('s1', 'TASK_RUNNING');
    h.agent.shutdownExecutor(FRAMEWORK_ID, 'nice');
    await h.master.waitUpdate('s1', 'TASK_KILLED');
    await waitFor('exitedExecutor', () => h!.master.exited[0]);
    expect(h.master.exited[0]!.status).toBe(0);
    expect(h.master.statesOf('s1')).toEqual(['TASK_RUNNING', 'TASK_KILLED']);
  });

  it('fetches file:// URIs and absolute paths into the sandbox (output_file, executable, .gz)', async () => {
    h = await startAgent();
    const source = join(h.workDir, 'payload.txt');
    await writeFile(source, 'payload');
    const { gzipSync } = await import('node:zlib');
    await writeFile(join(h.workDir, 'data.txt.gz'), gzipSync('unzipped'));
    const executor = testExecutor(
      'fetching',
      {},
      {
        uris: [
          { value: `file://${source}` },
          { value: source, output_file: 'sub/renamed.sh', executable: true },
          { value: join(h.workDir, 'data.txt.gz') },
        ],
      },
    );
    h.agent.runTask({ framework: frameworkInfo(), task: task('f1', 'finish', executor) });
    await h.master.waitUpdate('f1', 'TASK_FINISHED');
    const sandbox = h.agent.sandboxOf(FRAMEWORK_ID, 'fetching')!;
    expect(readFileSync(join(sandbox, 'payload.txt'), 'utf8')).toBe('payload');
    expect(readFileSync(join(sandbox, 'sub/renamed.sh'), 'utf8')).toBe('payload');
    const { statSync } = await import('node:fs');
    expect(statSync(join(sandbox, 'sub/renamed.sh')).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(sandbox, 'data.txt'), 'utf8')).toBe('unzipped');
    expect(existsSync(join(sandbox, 'data.txt.gz'))).toBe(false);
  });

  it('a failed fetch fails the queued tasks with REASON_CONTAINER_LAUNCH_FAILED', async () => {
    h = await startAgent();
    const executor = testExecutor('nofetch', {}, { uris: [{ value: '/nonexistent/mesoskit-missing-file' }] });
    h.agent.runTask({ framework: frameworkInfo(), task: task('f1', 'finish', executor) });
    const failed = await h.master.waitUpdate('f1', 'TASK_FAILED');
    expect(failed.reason).toBe('REASON_CONTAINER_LAUNCH_FAILED');
    expect(failed.source).toBe('SOURCE_AGENT');
    expect(failed.message).toMatch(/^Failed to launch container: Failed to fetch all URIs for container '/);
  });

  it('shutdownFramework: SHUTDOWN; updates of the torn-down framework are ignored', async () => {
    h = await startAgent();
    h.agent.runTask({ framework: frameworkInfo(), task: task('t1', 'run', testExecutor('e1')) });
    await h.master.waitUpdate('t1', 'TASK_RUNNING');
    h.agent.shutdownFramework(FRAMEWORK_ID);
    await waitFor('exitedExecutor', () => h!.master.exited[0]);
    expect(h.master.exited[0]).toEqual({ frameworkId: FRAMEWORK_ID, executorId: 'e1', status: 0 });
    expect(h.master.statesOf('t1')).toEqual(['TASK_RUNNING']);
  });

  it('fetches http:// URIs and extracts .tar.gz archives', async () => {
    h = await startAgent();
    const { execFileSync } = await import('node:child_process');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(h.workDir, 'pkg/dir'), { recursive: true });
    await writeFile(join(h.workDir, 'pkg/dir/inside.txt'), 'from the archive');
    execFileSync('tar', ['-C', join(h.workDir, 'pkg'), '-czf', join(h.workDir, 'bundle.tar.gz'), 'dir']);
    const archive = readFileSync(join(h.workDir, 'bundle.tar.gz'));
    const http = await import('node:http');
    const server = http.createServer((req, res) => {
      if (req.url === '/bundle.tar.gz') res.end(archive);
      else res.end('plain body');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as import('node:net').AddressInfo;
    try {
      const executor = testExecutor(
        'http-fetch',
        {},
        {
          uris: [
            { value: `http://127.0.0.1:${port}/bundle.tar.gz` },
            { value: `http://127.0.0.1:${port}/file.txt?x=1` },
          ],
        },
      );
      h.agent.runTask({ framework: frameworkInfo(), task: task('h1', 'finish', executor) });
      await h.master.waitUpdate('h1', 'TASK_FINISHED');
      const sandbox = h.agent.sandboxOf(FRAMEWORK_ID, 'http-fetch')!;
      expect(readFileSync(join(sandbox, 'dir/inside.txt'), 'utf8')).toBe('from the archive');
      expect(readFileSync(join(sandbox, 'file.txt'), 'utf8')).toBe('plain body');
    } finally {
      server.close();
    }
  });

  it('an executor program that cannot be executed terminates the executor (TASK_FAILED, exitedExecutor(256))', async () => {
    h = await startAgent();
    const missing = testExecutor(
      'missing',
      {},
      { shell: false, value: '/nonexistent/executor', arguments: ['x'] },
    );
    h.agent.runTask({ framework: frameworkInfo(), task: task('m1', 'run', missing) });
    expect((await h.master.waitUpdate('m1', 'TASK_FAILED')).reason).toBe('REASON_EXECUTOR_TERMINATED');
    expect(h.master.exited).toEqual([{ frameworkId: FRAMEWORK_ID, executorId: 'missing', status: 256 }]);
    // An empty program name cannot even be spawned: a container launch failure.
    const empty = testExecutor('empty', {}, { shell: false, value: '' });
    h.agent.runTask({ framework: frameworkInfo(), task: task('m2', 'run', empty) });
    expect((await h.master.waitUpdate('m2', 'TASK_FAILED')).reason).toBe('REASON_CONTAINER_LAUNCH_FAILED');
  });

  it('stop() kills every executor process group and tells the master', async () => {
    h = await startAgent();
    h.agent.runTask({ framework: frameworkInfo(), task: task('t1', 'run', testExecutor('e1')) });
    await h.master.waitUpdate('t1', 'TASK_RUNNING');
    const pid = h.agent.pidOf(FRAMEWORK_ID, 'e1')!;
    await h.agent.stop();
    await waitFor(`process group ${pid} gone`, () => !alive(-pid));
    expect(h.master.gone).toEqual([AGENT_ID]);
  });
});
