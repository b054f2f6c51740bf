import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  executorCliPath,
  executorCommand,
  parseDemoArgs,
  shellQuote,
  UsageError,
} from '../src/common/index.js';

const spec = {
  name: 'demo',
  description: 'a demo',
  options: { tasks: { type: 'string' } },
  usage: [],
} as const;

describe('parseDemoArgs', () => {
  it('defaults to the embedded cluster with one agent', () => {
    const parsed = parseDemoArgs(spec, []);
    expect(parsed?.common).toEqual({
      masters: undefined,
      executorLauncher: undefined,
      agents: 1,
      credentials: undefined,
      user: undefined,
      shipHandlers: false,
      listen: '127.0.0.1',
      advertise: '127.0.0.1',
    });
  });

  it('takes several masters, repeated or comma-separated, and the demo flags', () => {
    const parsed = parseDemoArgs(spec, [
      '--master',
      'http://m1:5050,http://m2:5050',
      '--master',
      'https://m3:5050',
      '--tasks',
      '3',
    ]);
    expect(parsed?.common.masters).toEqual(['http://m1:5050', 'http://m2:5050', 'https://m3:5050']);
    expect(parsed?.values.tasks).toBe('3');
  });

  it('skips a leading "--" (pnpm passes it on)', () => {
    expect(parseDemoArgs(spec, ['--', '--agents', '2'])?.common.agents).toBe(2);
  });

  it('returns undefined for --help', () => {
    expect(parseDemoArgs(spec, ['-h'])).toBeUndefined();
  });

  it('reads the secret of --principal from --secret-file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mesoskit-examples-'));
    const file = join(dir, 'secret');
    try {
      await writeFile(file, 's3cret\n');
      expect(
        parseDemoArgs(spec, ['--principal', 'spider', '--secret-file', file])?.common.credentials,
      ).toEqual({ principal: 'spider', secret: 's3cret' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [['--master', 'mesos://m1'], '--master: not an http(s) URL'],
    [['--master', 'nope'], '--master: not a URL'],
    [['--agents', '0'], '--agents: expected a positive integer'],
    [['--agents', '2', '--master', 'http://m:5050'], 'cannot be used with --master'],
    [['--principal', 'p'], '--principal and --secret-file go together'],
    [['--executor-command', ' '], '--executor-command: expected a command'],
    [['--what'], "Unknown option '--what'"],
  ])('rejects %j', (argv, message) => {
    expect(() => parseDemoArgs(spec, argv)).toThrow(UsageError);
    expect(() => parseDemoArgs(spec, argv)).toThrow(message);
  });
});

describe('executorCommand', () => {
  it('starts this node on the executor CLI by default', () => {
    expect(executorCommand('/x/handlers.js')).toBe(
      `exec ${shellQuote(process.execPath)} ${shellQuote(executorCliPath())} --handlers /x/handlers.js`,
    );
    expect(executorCliPath()).toMatch(/executor[/\\]dist[/\\]cli\.js$/);
  });

  it('puts --executor-command before --handlers, quoting the path', () => {
    expect(executorCommand("/my dir/it's.js", 'exec mesoskit-executor')).toBe(
      `exec mesoskit-executor --handlers '/my dir/it'\\''s.js'`,
    );
  });
});
