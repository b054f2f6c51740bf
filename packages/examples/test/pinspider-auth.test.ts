/**
 * pinspider against a master that requires HTTP Basic credentials (a local cluster started
 * with `credentials`, as Mesos with `--authenticate_http_frameworks`) and agents that require
 * executor authentication (as Mesos' `--authenticate_http_executors`): the executors must send
 * their `MESOS_EXECUTOR_AUTHENTICATION_TOKEN` on every call, or no task would finish.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalCluster, startLocalCluster } from '@mesoskit/local-cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo, shown } from './run-demo.js';

describe('pinspider with framework credentials and executor authentication', () => {
  let cluster: LocalCluster;
  let dir: string;
  beforeAll(async () => {
    cluster = await startLocalCluster({
      credentials: [{ principal: 'spider', secret: 'web' }],
      executorAuthentication: true,
    });
    dir = await mkdtemp(join(tmpdir(), 'mesoskit-examples-'));
    await writeFile(join(dir, 'right'), 'web\n');
    await writeFile(join(dir, 'wrong'), 'nope\n');
  });
  afterAll(async () => {
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs with --principal and --secret-file', async () => {
    const r = await runDemo('pinspider', [
      '--master',
      cluster.masterUrl,
      '--principal',
      'spider',
      '--secret-file',
      join(dir, 'right'),
    ]);
    expect(r.code, shown(r)).toBe(0);
    expect(r.stdout, shown(r)).toMatch(/^done: 9 tasks finished/m);
  });

  it("exits 1 with the master's answer when the secret is wrong", async () => {
    const r = await runDemo('pinspider', [
      '--master',
      cluster.masterUrl,
      '--principal',
      'spider',
      '--secret-file',
      join(dir, 'wrong'),
    ]);
    expect(r.code, shown(r)).toBe(1);
    expect(r.stderr, shown(r)).toContain('SUBSCRIBE failed with HTTP 401');
  });
});
