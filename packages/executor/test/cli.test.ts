/** The CLI as operators run it: a thin shim whose every failure is one line and a non-zero exit. */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decodeResultEnvelope } from '@mesoskit/protocol';
import { describe, expect, it } from 'vitest';
import { loadHandlers } from '../src/index.js';
import { CLUSTER_HANDLERS, FIXTURE_DIR, runCli } from './helpers/cli.js';
import { FakeAgent } from './helpers/fake-agent.js';

const ENV = { MESOS_AGENT_ENDPOINT: '127.0.0.1:1', MESOS_FRAMEWORK_ID: 'f', MESOS_EXECUTOR_ID: 'e' };

function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  expect(lines, `expected one line, got: ${stderr}`).toHaveLength(1);
  return lines[0]!;
}

describe('loadHandlers', () => {
  it('loads a module default export by path (relative to the sandbox) or file URL', async () => {
    const byPath = await loadHandlers('cluster-handlers.ts', FIXTURE_DIR);
    expect(byPath.list.map((h) => h.name)).toContain('it.echo');
    const byUrl = await loadHandlers(pathToFileURL(CLUSTER_HANDLERS).href);
    expect(byUrl.get('it.crash')).toBeDefined();
  });

  it.each([
    ['missing.mjs', 'handler module not found: '],
    ['broken.mjs', 'failed to load: Error: boom at import second line'],
    ['no-default.mjs', 'must export default handlers(...) from @mesoskit/executor, got no default export'],
  ])('%s: one line naming the module', async (file, text) => {
    const err = (await loadHandlers(file, FIXTURE_DIR).catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ name: 'HandlerModuleError', code: 'HANDLER_MODULE' });
    expect(err.message).toContain(text);
    expect(err.message).toContain(join(FIXTURE_DIR, file));
    expect(err.message).not.toContain('\n');
  });
});

describe('mesoskit-executor', () => {
  it.each([
    [[], ENV, 2, 'mesoskit-executor: --handlers <module path or file URL> is required'],
    [['--handlers', 'nope.mjs'], ENV, 2, 'mesoskit-executor: handler module not found: '],
    [['--handlers', join(FIXTURE_DIR, 'broken.mjs')], ENV, 2, 'failed to load: Error: boom at import'],
    [['--handlers', join(FIXTURE_DIR, 'no-default.mjs')], ENV, 2, 'must export default handlers(...)'],
    [['--handlers', CLUSTER_HANDLERS], {}, 1, 'mesoskit-executor: MESOS_AGENT_ENDPOINT is not set'],
    [
      ['--handlers', CLUSTER_HANDLERS, '--concurrency', '0'],
      ENV,
      2,
      '--concurrency must be a positive integer',
    ],
    [['--handlers', CLUSTER_HANDLERS, '--idle-timeout', 'soon'], ENV, 2, '--idle-timeout must be a duration'],
    [['--bogus'], ENV, 2, "Unknown option '--bogus'"],
  ])('%j fails with one line and a non-zero exit', async (args, env, code, text) => {
    const result = await runCli(args, env);
    expect(result.code).toBe(code);
    expect(oneLine(result.stderr)).toContain(text);
  });

  it.each([
    ['json', {}],
    ['protobuf', { MESOS_EXECUTOR_AUTHENTICATION_TOKEN: 'a.b.c' }],
  ])('runs tasks against an agent and exits 0 after SHUTDOWN (%s)', async (encoding, extraEnv) => {
    const agent = await FakeAgent.start();
    try {
      const exited = runCli(
        ['--handlers', CLUSTER_HANDLERS, '--encoding', encoding, '--log-level', 'info'],
        agent.env(extraEnv),
      );
      await agent.waitForCall('SUBSCRIBE from the CLI', (c) => c.type === 'SUBSCRIBE', 10_000);
      agent.launch('c1', { task: 'it.echo', taskVersion: 1, attempt: 1, input: { text: 'hi' } });
      const finished = await agent.waitForUpdate('c1', 'TASK_FINISHED');
      expect(decodeResultEnvelope(finished.data!)).toMatchObject({ ok: true, output: { text: 'hi' } });
      agent.send({ type: 'SHUTDOWN' });
      const result = await exited;
      expect(result.code).toBe(0);
      const lines = result.stderr
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => l.message)).toEqual(expect.arrayContaining(['subscribed', 'executor exiting']));
      // The SUBSCRIBE sent before the runtime loaded was adopted (and the LAUNCH sent meanwhile kept).
      expect(agent.streams).toBe(1);
      expect(agent.calls.filter((c) => c.call.type === 'SUBSCRIBE')).toHaveLength(1);
    } finally {
      await agent.close();
    }
  });

  it('survives errors that escape a handler (a throw in a timer, a floating rejection)', async () => {
    const agent = await FakeAgent.start();
    try {
      const exited = runCli(['--handlers', CLUSTER_HANDLERS, '--log-format', 'pretty'], agent.env());
      await agent.waitForCall('SUBSCRIBE from the CLI', (c) => c.type === 'SUBSCRIBE', 10_000);
      agent.launch('s1', { task: 'it.stray', taskVersion: 1, attempt: 1, input: {} });
      const finished = await agent.waitForUpdate('s1', 'TASK_FINISHED');
      expect(decodeResultEnvelope(finished.data!)).toMatchObject({ ok: true, output: 'survived' });
      agent.launch('s2', { task: 'it.echo', taskVersion: 1, attempt: 1, input: { text: 'after' } });
      await agent.waitForUpdate('s2', 'TASK_FINISHED');
      agent.send({ type: 'SHUTDOWN' });
      const result = await exited;
      expect(result.code).toBe(0);
      expect(result.stderr).toContain('stray throw from a timer');
      expect(result.stderr).toContain('stray floating rejection');
      expect(result.stderr).toMatch(/ERROR uncaught error outside any handler call/);
    } finally {
      await agent.close();
    }
  });

  it("runs isolation: 'worker' handlers in worker threads", async () => {
    const agent = await FakeAgent.start();
    try {
      const exited = runCli(['--handlers', join(FIXTURE_DIR, 'worker-handlers.mjs')], agent.env());
      await agent.waitForCall('SUBSCRIBE from the CLI', (c) => c.type === 'SUBSCRIBE', 10_000);
      agent.launch('w1', { task: 'w.cpu', taskVersion: 1, attempt: 1, input: { ms: 50 } });
      const finished = await agent.waitForUpdate('w1', 'TASK_FINISHED');
      const result = decodeResultEnvelope(finished.data!);
      expect(result.ok && (result.output as { threadId: number }).threadId).toBeGreaterThan(0);
      agent.send({ type: 'SHUTDOWN' });
      expect((await exited).code).toBe(0);
    } finally {
      await agent.close();
    }
  });

  it('prints its usage with --help', async () => {
    const result = await runCli(['--help'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('usage: mesoskit-executor --handlers');
  });
});
