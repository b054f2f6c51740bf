/** The local cluster's agent: executor API, executor processes, reliable status updates. */
export {
  type AgentExecutorSnapshot,
  DEFAULT_AGENT_RESOURCES,
  LocalAgent,
  type LocalAgentOptions,
} from './agent.js';
export { buildEnvironment, MESOS_DEFAULT_PATH } from './environment.js';
export { DEFAULT_RETRY, type RetryPolicy, StatusUpdateManager } from './status-updates.js';
