/**
 * pinspider survives losing its subscription: the test cuts the connection as soon as the demo
 * has subscribed, and the demo re-subscribes with the same framework id (failover_timeout keeps
 * the framework), reconciles, and still finishes every crawl. Findings whose framework message
 * was lost while it was away are printed from the task results.
 */
import { type LocalCluster, startLocalCluster } from '@mesoskit/local-cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo, shown } from './run-demo.js';

describe('pinspider when its subscription drops', () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    cluster = await startLocalCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('re-subscribes, reconciles and finishes', async () => {
    const dropped: boolean[] = [];
    const r = await runDemo('pinspider', ['--master', cluster.masterUrl], 45_000, (line) => {
      const m = /^subscribed: framework (\S+) /.exec(line);
      if (m) dropped.push(cluster.faults.dropSubscription(m[1]!));
    });
    expect(dropped, 'the subscription was there to drop').toEqual([true]);
    expect(r.code, shown(r)).toBe(0);
    expect(r.stdout, shown(r)).toMatch(
      /^resubscribed to http:\/\/127\.0\.0\.1:\d+\/api\/v1\/scheduler; reconciling$/m,
    );
    const findings = r.stdout.split('\n').filter((l) => l.startsWith('profile ') || l.startsWith('board '));
    expect(findings, shown(r)).toHaveLength(9);
    expect(r.stdout, shown(r)).toMatch(/^done: 9 tasks finished \(3 profiles, 6 boards, 15 pins\)/m);
  });
});
