/** An executor remembers the ids of its last MAX_COMPLETED_TASKS completed tasks. */
import { describe, expect, it } from 'vitest';
import { Executor, MAX_COMPLETED_TASKS } from '../../src/agent/executors.js';
import { FRAMEWORK_ID, testExecutor } from './helpers.js';

describe('completed tasks of a long-lived executor', () => {
  it('are remembered up to the limit; past it, the oldest is forgotten', () => {
    const executor = new Executor({
      frameworkId: FRAMEWORK_ID,
      info: testExecutor('e'),
      containerId: 'c',
      sandbox: '/nonexistent',
    });
    for (let n = 0; n < MAX_COMPLETED_TASKS; n++) executor.rememberCompleted(`t${n}`);
    expect(executor.completed('t0')).toBe(true);
    executor.rememberCompleted('last');
    expect(executor.completed('t0')).toBe(false);
    expect(executor.completed('t1')).toBe(true);
    expect(executor.completed('last')).toBe(true);
  });
});
