/**
 * `mesoskit-local` as a user runs it: a real process, its first line, its endpoints, Ctrl-C.
 * (Run from source with tsx, so the test does not depend on this package's own build.)
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

function run(args: string[]): {
  child: ChildProcess;
  output: () => string;
  line: (re: RegExp) => Promise<string>;
} {
  const c = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child = c;
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
          resolve(m[0]);
        } else waiters.push(check);
      };
      check();
    });
  return { child: c, output: () => out, line };
}

describe('mesoskit-local', () => {
  it('prints the master URL and a summary, serves the master, and stops cleanly on SIGINT', async () => {
    const cli = run(['--port', '0', '--agents', '2']);
    const url = await cli.line(/http:\/\/127\.0\.0\.1:\d+/);
    await cli.line(/agents: 2/);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const state = (await (await fetch(`${url}/master/state`)).json()) as { slaves: unknown[] };
    expect(state.slaves).toHaveLength(2);
    cli.child.kill('SIGINT');
    const [code] = await once(cli.child, 'exit');
    expect(code).toBe(0);
  });

  it('rejects bad flags with a one-line message and exit code 2', async () => {
    const cli = run(['--agents', 'zero']);
    const [code] = await once(cli.child, 'exit');
    expect(code).toBe(2);
    expect(cli.output()).toContain("--agents must be a non-negative integer, got 'zero'");
  });

  it('rejects a bad health-check flag with a one-line message and exit code 2', async () => {
    const cli = run(['--max-agent-ping-timeouts', '0']);
    const [code] = await once(cli.child, 'exit');
    expect(code).toBe(2);
    expect(cli.output()).toContain("--max-agent-ping-timeouts must be a positive integer, got '0'");
  });
});
