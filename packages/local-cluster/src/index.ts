/**
 * `@mesoskit/local-cluster`: a single-machine, Mesos-compatible master and agents, for
 * development, tests and examples. Production runs on a real Mesos cluster.
 *
 * ```ts
 * import { startLocalCluster } from '@mesoskit/local-cluster';
 *
 * await using cluster = await startLocalCluster({ agents: 2 });
 * console.log(cluster.masterUrl); // any Mesos v1 scheduler can subscribe here
 * ```
 *
 * @packageDocumentation
 */

export {
  type AgentExecutorSnapshot,
  DEFAULT_AGENT_RESOURCES,
  LocalAgent,
  type LocalAgentOptions,
  type RetryPolicy,
} from './agent/index.js';
export type {
  AgentRef,
  LocalCluster,
  LocalClusterAgent,
  LocalClusterFaults,
  LocalClusterOptions,
} from './cluster.js';
export { startLocalCluster } from './cluster.js';
export { LocalMaster, type LocalMasterOptions, MESOS_VERSION } from './master/index.js';
export { type RemoteAgent, type RemoteAgentOptions, startRemoteAgent } from './remote-agent.js';
