/**
 * Executor authentication (`executorAuthentication: true`): real HTTP against a real agent, real
 * executor processes; the test reads each executor's token from the environment its process got.
 */
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { executorCall, executorEvent, type mesos, RecordIODecoder } from '@mesoskit/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import {
  commandTask,
  FRAMEWORK_ID,
  frameworkInfo,
  type Harness,
  type HttpResult,
  request,
  startAgent,
  task,
  testExecutor,
  uuidBytes,
  waitFor,
} from './helpers.js';

const TOKEN_VAR = 'MESOS_EXECUTOR_AUTHENTICATION_TOKEN';
const UNAUTHORIZED = { status: 401, body: '401 Unauthorized.', auth: 'Bearer realm="mesos-agent-executor"' };

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

const ids = (executorId: string, frameworkId = FRAMEWORK_ID) => ({
  executor_id: { value: executorId },
  framework_id: { value: frameworkId },
});

/** The environment the executor's process was given (the fixture dumps it in its sandbox). */
async function executorEnv(executorId: string): Promise<Record<string, string>> {
  const file = await waitFor(`environment dump of ${executorId}`, () => {
    const sandbox = h!.agent.sandboxOf(FRAMEWORK_ID, executorId);
    const path = sandbox && join(sandbox, 'executor-env.json');
    return path && existsSync(path) && readFileSync(path, 'utf8').endsWith('}') ? path : undefined;
  });
  return (JSON.parse(readFileSync(file, 'utf8')) as { env: Record<string, string> }).env;
}

/** Starts an executor that never subscribes (the test acts as it) and returns its token. */
async function registeringExecutor(executorId: string, taskId = `${executorId}-t`): Promise<string> {
  h!.agent.runTask({
    framework: frameworkInfo(),
    task: task(taskId, 'run', testExecutor(executorId, { TEST_EXECUTOR_NEVER_SUBSCRIBE: '1' })),
  });
  const token = (await executorEnv(executorId))[TOKEN_VAR];
  expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  return token!;
}

function post(call: mesos.v1.executor.Call, headers: Record<string, string> = {}): Promise<HttpResult> {
  return request(h!.agent.url, {
    headers: { 'Content-Type': 'application/json', ...headers },
    body: executorCall.encode(call, 'json'),
  });
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

const calls = (executorId: string): [string, mesos.v1.executor.Call][] => [
  ['SUBSCRIBE', { ...ids(executorId), type: 'SUBSCRIBE', subscribe: {} }],
  [
    'UPDATE',
    {
      ...ids(executorId),
      type: 'UPDATE',
      update: {
        status: {
          task_id: { value: `${executorId}-t` },
          state: 'TASK_RUNNING',
          source: 'SOURCE_EXECUTOR',
          uuid: uuidBytes(),
        },
      },
    },
  ],
  ['MESSAGE', { ...ids(executorId), type: 'MESSAGE', message: { data: Buffer.from('hi') } }],
  ['HEARTBEAT', { ...ids(executorId), type: 'HEARTBEAT' }],
];

function expectUnauthorized(res: HttpResult, what: string): void {
  expect(
    { status: res.status, body: res.body, auth: res.headers['www-authenticate'] },
    `${what}: ${res.status} ${res.body}`,
  ).toEqual(UNAUTHORIZED);
}

/** A SUBSCRIBE with the given headers whose events are recorded. */
function subscribeWith(executorId: string, headers: Record<string, string>) {
  return new Promise<{ status: number; events: mesos.v1.executor.Event[]; close(): void }>(
    (resolve, reject) => {
      const req = http.request(
        `${h!.agent.url}/api/v1/executor`,
        {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
        },
        (res) => {
          const events: mesos.v1.executor.Event[] = [];
          const decoder = new RecordIODecoder();
          res.on('data', (chunk: Buffer) => {
            for (const record of decoder.push(chunk)) events.push(executorEvent.decode(record, 'json'));
          });
          res.on('error', () => {});
          resolve({ status: res.statusCode ?? 0, events, close: () => req.destroy() });
        },
      );
      req.on('error', reject);
      req.end(executorCall.encode({ ...ids(executorId), type: 'SUBSCRIBE', subscribe: {} }, 'json'));
    },
  );
}

describe('executor authentication on', () => {
  it('every call without a token gets 401 with WWW-Authenticate, before method and Content-Type checks', async () => {
    h = await startAgent({ executorAuthentication: true });
    await registeringExecutor('e1');
    for (const [name, call] of calls('e1')) expectUnauthorized(await post(call), name);
    expectUnauthorized(
      await request(h.agent.url, {
        path: '/slave(1)/api/v1/executor',
        headers: { 'Content-Type': 'application/json' },
        body: executorCall.encode(calls('e1')[2]![1], 'json'),
      }),
      'MESSAGE on /slave(1)',
    );
    expectUnauthorized(await request(h.agent.url, { method: 'GET' }), 'GET');
    expectUnauthorized(await request(h.agent.url, { body: '{' }), 'no Content-Type, bad body');
    // An unknown framework or executor is not revealed either.
    expectUnauthorized(await post({ ...ids('nope', 'no-framework'), type: 'HEARTBEAT' }), 'unknown ids');
    expect(h.master.messages).toEqual([]);
    expect(h.master.updates).toEqual([]);
  });

  it('a garbage, tampered or foreign-agent token, or another scheme, gets 401', async () => {
    h = await startAgent({ executorAuthentication: true });
    const token = await registeringExecutor('e1');
    const other = await startAgent({ executorAuthentication: true });
    try {
      other.agent.runTask({
        framework: frameworkInfo(),
        task: task('x', 'run', testExecutor('e1', { TEST_EXECUTOR_NEVER_SUBSCRIBE: '1' })),
      });
      const foreignFile = await waitFor('foreign env dump', () => {
        const sandbox = other.agent.sandboxOf(FRAMEWORK_ID, 'e1');
        const path = sandbox && join(sandbox, 'executor-env.json');
        return path && existsSync(path) && readFileSync(path, 'utf8').endsWith('}') ? path : undefined;
      });
      const foreign = (JSON.parse(readFileSync(foreignFile, 'utf8')) as { env: Record<string, string> }).env[
        TOKEN_VAR
      ]!;
      expect(foreign).not.toBe(token);
      const [header, payload] = token.split('.');
      const badHeaders: Record<string, string>[] = [
        bearer('garbage'),
        bearer('a.b.c'),
        bearer(`${header}.${payload}.`),
        bearer(`${token}x`),
        bearer(foreign),
        { Authorization: 'Bearer' },
        { Authorization: `Basic ${Buffer.from('e1:secret').toString('base64')}` },
        { Authorization: token },
      ];
      for (const headers of badHeaders) {
        for (const [name, call] of calls('e1'))
          expectUnauthorized(await post(call, headers), `${name} ${headers.Authorization}`);
      }
    } finally {
      await other.cleanup();
    }
  });

  it("another executor's valid token gets 401, for its own ids too when they are not the call's", async () => {
    h = await startAgent({ executorAuthentication: true });
    const token1 = await registeringExecutor('e1');
    const token2 = await registeringExecutor('e2');
    expect(token2).not.toBe(token1);
    for (const [name, call] of calls('e1'))
      expectUnauthorized(await post(call, bearer(token2)), `${name} e1 with e2's`);
    for (const [name, call] of calls('e2'))
      expectUnauthorized(await post(call, bearer(token1)), `${name} e2 with e1's`);
    // The right executor id under another framework id.
    expectUnauthorized(
      await post({ ...ids('e1', 'other-framework'), type: 'HEARTBEAT' }, bearer(token1)),
      'fid',
    );
    expect(h.master.messages).toEqual([]);
    expect(h.master.updates).toEqual([]);
  });

  it('the right token works: SUBSCRIBE, UPDATE, MESSAGE, HEARTBEAT; the usual checks follow', async () => {
    h = await startAgent({ executorAuthentication: true });
    const token = await registeringExecutor('e1', 't1');
    // Past authentication, Mesos' order: method, then the REGISTERING check.
    const get = await request(h.agent.url, { method: 'GET', headers: bearer(token) });
    expect([get.status, get.headers.allow]).toEqual([405, 'POST']);
    const early = await post(calls('e1')[2]![1], bearer(token));
    expect([early.status, early.body]).toEqual([403, 'Executor is not subscribed']);

    const sub = await subscribeWith('e1', bearer(token));
    try {
      expect(sub.status).toBe(200);
      await waitFor('LAUNCH', () => sub.events.find((e) => e.type === 'LAUNCH'));
      expect(sub.events[0]?.type).toBe('SUBSCRIBED');

      const uuid = uuidBytes();
      const update = await post(
        {
          ...ids('e1'),
          type: 'UPDATE',
          update: {
            status: { task_id: { value: 't1' }, state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', uuid },
          },
        },
        bearer(token),
      );
      expect(update.status).toBe(202);
      await h.master.waitUpdate('t1', 'TASK_RUNNING');
      await waitFor('ACKNOWLEDGED', () => sub.events.find((e) => e.type === 'ACKNOWLEDGED'));

      const message = await post(
        { ...ids('e1'), type: 'MESSAGE', message: { data: Buffer.from('hello') } },
        { Authorization: `bearer ${token}` },
      );
      expect(message.status).toBe(202);
      await waitFor('message at the master', () => h!.master.messages.length === 1);
      expect(h.master.messages).toEqual([{ frameworkId: FRAMEWORK_ID, executorId: 'e1', data: 'hello' }]);

      expect((await post({ ...ids('e1'), type: 'HEARTBEAT' }, bearer(token))).status).toBe(202);
      const unknown = await post({ ...ids('e1'), type: 'MESSAGE' }, bearer(token));
      expect([unknown.status, unknown.body]).toEqual([
        400,
        "Failed to validate Executor::Call: Expecting 'message' to be present",
      ]);
    } finally {
      sub.close();
    }
  });

  it('the token of an earlier run of the same executor id gets 401', async () => {
    h = await startAgent({ executorAuthentication: true });
    const first = await registeringExecutor('e1', 't1');
    const pid = h.agent.pidOf(FRAMEWORK_ID, 'e1')!;
    expect(h.agent.killExecutorProcess(FRAMEWORK_ID, 'e1')).toBe(true);
    await h.master.waitUpdate('t1', 'TASK_FAILED');
    await waitFor('old run gone', () => h!.agent.pidOf(FRAMEWORK_ID, 'e1') !== pid);
    await waitFor('old run gone', () => h!.agent.sandboxOf(FRAMEWORK_ID, 'e1') === undefined);
    const second = await registeringExecutor('e1', 't2');
    expect(second).not.toBe(first);
    expectUnauthorized(await post(calls('e1')[0]![1], bearer(first)), 'SUBSCRIBE with the old token');
    const sub = await subscribeWith('e1', bearer(second));
    sub.close();
    expect(sub.status).toBe(200);
  });

  it('a real executor process subscribes with its token and finishes its tasks; the token names its run', async () => {
    h = await startAgent({ executorAuthentication: true });
    h.agent.runTask({ framework: frameworkInfo(), task: task('t1', 'finish', testExecutor('exec-1')) });
    await h.master.waitUpdate('t1', 'TASK_FINISHED');
    h.agent.runTask({ framework: frameworkInfo(), task: task('t2', 'message', testExecutor('exec-1')) });
    await waitFor('MESSAGE from the executor', () =>
      h!.master.messages.find((m) => m.data === 'hello from t2'),
    );
    expect(h.master.statesOf('t1')).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);

    const env = await executorEnv('exec-1');
    const containerId = h.agent.sandboxOf(FRAMEWORK_ID, 'exec-1')!.split('/').at(-1);
    const payload = JSON.parse(Buffer.from(env[TOKEN_VAR]!.split('.')[1]!, 'base64url').toString());
    expect(payload).toEqual({ fid: FRAMEWORK_ID, eid: 'exec-1', cid: containerId });
  });

  it('a command task does not see a token', async () => {
    h = await startAgent({ executorAuthentication: true });
    const out = join(h.workDir, 'command-env.txt');
    h.agent.runTask({ framework: frameworkInfo(), task: commandTask('c1', `env > ${out}`) });
    await h.master.waitUpdate('c1', 'TASK_FINISHED');
    const env = readFileSync(out, 'utf8');
    expect(env).toContain('MESOS_EXECUTOR_ID=');
    expect(env).not.toContain(TOKEN_VAR);
  });
});

describe('executor authentication off (the default)', () => {
  it('gives no token variable and checks no Authorization header', async () => {
    h = await startAgent();
    h.agent.runTask({ framework: frameworkInfo(), task: task('t1', 'message', testExecutor('exec-1')) });
    await waitFor('MESSAGE from the executor', () =>
      h!.master.messages.find((m) => m.data === 'hello from t1'),
    );
    expect(Object.keys(await executorEnv('exec-1'))).not.toContain(TOKEN_VAR);
    const res = await post(calls('exec-1')[2]![1], bearer('garbage'));
    expect(res.status).toBe(202);
    expect((await post(calls('exec-1')[2]![1])).status).toBe(202);
  });
});
