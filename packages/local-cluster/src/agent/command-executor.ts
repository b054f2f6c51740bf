/**
 * Command tasks (`TaskInfo.command`, no executor), run the way Mesos' built-in command executor
 * runs them (§2.11, capture 03): an executor whose ExecutorID is the task id and whose process
 * is the command itself. The agent reports for it, as the command executor would: TASK_STARTING
 * and TASK_RUNNING once the process started, then `Command exited with status N` (TASK_FINISHED
 * for 0, TASK_FAILED otherwise, no reason), or TASK_KILLED `Command terminated with signal …`
 * after a kill (TASK_KILLING first when the framework has TASK_KILLING_STATE).
 */
import type { mesos } from '@mesoskit/protocol';
import { describeWaitStatus } from './process.js';

/** The command executor's default grace period between SIGTERM and SIGKILL. */
export const COMMAND_KILL_GRACE_MS = 3000;

/** The ExecutorInfo the agent makes for a command task. */
export function commandExecutorInfo(frameworkId: string, task: mesos.v1.TaskInfo): mesos.v1.ExecutorInfo {
  const command = task.command ?? {};
  const shown =
    command.shell === false
      ? [command.value, ...(command.arguments ?? []).slice(1)].join(' ')
      : command.value;
  return {
    executor_id: { value: task.task_id.value },
    framework_id: { value: frameworkId },
    name: `Command Executor (Task: ${task.task_id.value}) (Command: sh -c '${shown ?? ''}')`,
    source: task.task_id.value,
    command,
  };
}

/** The role command tasks see as `MESOS_ALLOCATION_ROLE`. */
export function allocationRole(task: mesos.v1.TaskInfo): string {
  const resource = task.resources?.[0];
  return resource?.allocation_info?.role ?? resource?.role ?? '*';
}

/** The terminal state and message of a command that exited with raw wait status `status`. */
export function commandTerminal(
  status: number,
  killed: boolean,
): { state: mesos.v1.TaskState; message: string } {
  const message = `Command ${describeWaitStatus(status)}`;
  if (killed) return { state: 'TASK_KILLED', message };
  return { state: status === 0 ? 'TASK_FINISHED' : 'TASK_FAILED', message };
}

export function hasCapability(
  framework: mesos.v1.FrameworkInfo,
  type: mesos.v1.FrameworkInfo.Capability.Type,
): boolean {
  return (framework.capabilities ?? []).some((c) => c.type === type);
}

export function durationMs(duration: mesos.v1.DurationInfo | undefined): number | undefined {
  if (!duration) return undefined;
  return Math.max(0, Number(duration.nanoseconds) / 1e6);
}
