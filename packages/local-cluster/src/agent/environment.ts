/**
 * The executor's environment, built from scratch as the Mesos containerizer does (§3.11): the
 * agent's variables, then the agent's `executorEnvironment` option, then the `VALUE` variables of
 * `CommandInfo.environment` (later wins). The agent's own environment is not inherited.
 */
import { dirname } from 'node:path';
import type { mesos } from '@mesoskit/protocol';
import { formatDuration } from '@mesoskit/protocol';

/** Mesos' default `PATH` for executors. */
export const MESOS_DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Mesos' default `PATH`, with the directory of the running `node` first when it is not already
 * in it, so `node` resolves (when it is, the PATH is exactly Mesos', as in capture 04/17).
 */
export function executorPath(): string {
  const dir = dirname(process.execPath);
  return MESOS_DEFAULT_PATH.split(':').includes(dir) ? MESOS_DEFAULT_PATH : `${dir}:${MESOS_DEFAULT_PATH}`;
}

export interface EnvironmentInput {
  frameworkId: string;
  executorId: string;
  agentId: string;
  ip: string;
  port: number;
  sandbox: string;
  checkpoint: boolean;
  shutdownGracePeriodMs: number;
  /** `--executor_reregistration_timeout`, given as `MESOS_SUBSCRIPTION_BACKOFF_MAX` (default 2 s). */
  reregistrationTimeoutMs?: number;
  /** Agent-wide extra variables (`--executor_environment_variables`). */
  executorEnvironment?: Record<string, string> | undefined;
  /** The `CommandInfo.environment` of the process. */
  commandEnvironment?: mesos.v1.Environment | undefined;
  /** The executor's token, with executor authentication on (`MESOS_EXECUTOR_AUTHENTICATION_TOKEN`). */
  authenticationToken?: string | undefined;
  /** Extra agent variables (command tasks get `MESOS_ALLOCATION_ROLE`). */
  extra?: Record<string, string>;
}

export function buildEnvironment(input: EnvironmentInput): Record<string, string> {
  const env: Record<string, string> = {
    MESOS_FRAMEWORK_ID: input.frameworkId,
    MESOS_EXECUTOR_ID: input.executorId,
    MESOS_AGENT_ENDPOINT: `${input.ip}:${input.port}`,
    MESOS_SLAVE_PID: `slave(1)@${input.ip}:${input.port}`,
    MESOS_SLAVE_ID: input.agentId,
    MESOS_DIRECTORY: input.sandbox,
    MESOS_SANDBOX: input.sandbox,
    MESOS_CHECKPOINT: input.checkpoint ? '1' : '0',
    MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: formatDuration(input.shutdownGracePeriodMs),
    MESOS_HTTP_COMMAND_EXECUTOR: '0',
    LIBPROCESS_PORT: '0',
    LIBPROCESS_IP: input.ip,
  };
  if (input.authenticationToken !== undefined) {
    env.MESOS_EXECUTOR_AUTHENTICATION_TOKEN = input.authenticationToken;
  }
  if (input.checkpoint) {
    env.MESOS_RECOVERY_TIMEOUT = '15mins';
    env.MESOS_SUBSCRIPTION_BACKOFF_MAX = formatDuration(input.reregistrationTimeoutMs ?? 2000);
  }
  Object.assign(env, input.extra);
  Object.assign(env, input.executorEnvironment);
  for (const variable of input.commandEnvironment?.variables ?? []) {
    if ((variable.type ?? 'VALUE') !== 'VALUE') continue;
    env[variable.name] = variable.value ?? '';
  }
  env.PATH ??= executorPath();
  return env;
}
