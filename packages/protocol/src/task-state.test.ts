import { describe, expect, it } from 'vitest';
import { isTerminalTaskState, TERMINAL_TASK_STATES } from './task-state.js';

describe('task states', () => {
  it('are terminal exactly as Mesos counts them', () => {
    for (const s of ['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_ERROR', 'TASK_LOST'] as const)
      expect(isTerminalTaskState(s)).toBe(true);
    for (const s of [
      'TASK_STAGING',
      'TASK_STARTING',
      'TASK_RUNNING',
      'TASK_KILLING',
      'TASK_UNREACHABLE',
      'TASK_UNKNOWN',
    ] as const)
      expect(isTerminalTaskState(s)).toBe(false);
    expect(TERMINAL_TASK_STATES.size).toBe(8);
  });
});
