/**
 * One conformance test = a fresh local cluster + a replay of one capture (+ an output dir for
 * the stand-in capture executor). Torn down after each test.
 */
import { afterEach } from 'vitest';
import { type LocalCluster, type LocalClusterOptions, startLocalCluster } from '../../src/index.js';
import { executorRewrites, tempOut } from './executor-side.js';
import { Replay, type ReplayOptions } from './replay.js';

export interface Setup {
  cluster: LocalCluster;
  replay: Replay;
  /** Where the stand-in executor writes its records. */
  out: string;
}

/** Registers the teardown; call at the top of a test file. */
export function conformance(): (
  scenario: string,
  clusterOptions?: LocalClusterOptions,
  replayOptions?: ReplayOptions,
) => Promise<Setup> {
  const open: { cluster: LocalCluster; replay: Replay; remove(): void }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) {
      o.replay.closeAll();
      await o.cluster.stop();
      o.remove();
    }
  });
  return async (scenario, clusterOptions = {}, replayOptions = {}) => {
    const out = tempOut();
    const cluster = await startLocalCluster(clusterOptions);
    const replay = new Replay(scenario, cluster.masterUrl, {
      ...replayOptions,
      agentUrl: cluster.agents[0]!.url,
      rewrite: [...executorRewrites(scenario, out.dir), ...(replayOptions.rewrite ?? [])],
    });
    open.push({ cluster, replay, remove: out.remove });
    return { cluster, replay, out: out.dir };
  };
}
