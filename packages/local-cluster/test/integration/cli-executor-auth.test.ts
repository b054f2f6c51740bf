/**
 * `mesoskit-local --executor-authentication`: the agents of the real CLI process turn away an
 * executor call without a token. (Run from source with tsx, like test/integration/cli.test.ts.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
let child: ChildProcess | undefined;

afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
});

/** Resolves with the first match of `re` in the process' output (stdout and stderr). */
function outputMatch(c: ChildProcess, re: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`no output matching ${re} within 15 s; got: ${out}`)),
      15_000,
    );
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = re.exec(out);
      if (m) {
        clearTimeout(timer);
        c.stdout!.off('data', onData);
        c.stderr!.off('data', onData);
        resolve(m[0]);
      }
    };
    c.stdout!.on('data', onData);
    c.stderr!.on('data', onData);
  });
}

/** An executor HEARTBEAT to the first agent of the cluster at `url`. */
async function heartbeat(url: string): Promise<Response> {
  const state = (await (await fetch(`${url}/master/state`)).json()) as { slaves: { pid: string }[] };
  const address = state.slaves[0]!.pid.split('@')[1];
  return fetch(`http://${address}/api/v1/executor`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'HEARTBEAT', framework_id: { value: 'f' }, executor_id: { value: 'e' } }),
  });
}

describe('mesoskit-local --executor-authentication', () => {
  for (const on of [true, false]) {
    it(`${on ? 'requires' : 'does not require'} a Bearer token from executors`, async () => {
      const args = ['--port', '0', ...(on ? ['--executor-authentication'] : [])];
      const c = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      // The CLI handles SIGINT from the moment it prints its URL; wait for the summary anyway.
      const ready = outputMatch(c, /agents: 1/);
      const res = await heartbeat(await outputMatch(c, /http:\/\/127\.0\.0\.1:\d+/));
      if (on) {
        expect([res.status, res.headers.get('www-authenticate'), await res.text()]).toEqual([
          401,
          'Bearer realm="mesos-agent-executor"',
          '401 Unauthorized.',
        ]);
      } else {
        expect(res.status).toBe(202);
      }
      await ready;
      c.kill('SIGINT');
      const [code] = await once(c, 'exit');
      expect(code).toBe(0);
    });
  }
});
