/**
 * Facts about Mesos task states that every component needs (§2.11 of Mesos' v1 API): which
 * states are terminal.
 */
import type { mesos } from './mesos/types.generated.js';

/**
 * The states Mesos treats as terminal (`isTerminalState`): after one of them a task never
 * changes state again at the agent. (`TASK_LOST` can be followed by `TASK_RUNNING` when a
 * partitioned agent comes back; Mesos still counts it as terminal.)
 */
export const TERMINAL_TASK_STATES: ReadonlySet<mesos.v1.TaskState> = new Set<mesos.v1.TaskState>([
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_LOST',
  'TASK_DROPPED',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
]);

/** True for a terminal task state. */
export function isTerminalTaskState(state: mesos.v1.TaskState): boolean {
  return TERMINAL_TASK_STATES.has(state);
}
