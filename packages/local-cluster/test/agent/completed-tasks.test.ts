/**
 * An executor remembers its last MAX_COMPLETED_TASKS completed tasks; the checkpoint of one
 * that falls out is handed back, for the agent to drop from its run's task log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Checkpoint } from '../../src/agent/checkpoint.js';
import { Executor, MAX_COMPLETED_TASKS } from '../../src/agent/executors.js';
import { AGENT_ID, FRAMEWORK_ID, frameworkInfo, task, testExecutor } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('completed tasks of a long-lived executor', () => {
  it('are remembered up to the limit; the oldest one past it is handed back and dropped from the checkpoint', () => {
    const executor = new Executor({
      frameworkId: FRAMEWORK_ID,
      info: testExecutor('e'),
      containerId: 'c',
      sandbox: '/nonexistent',
    });
    const root = mkdtempSync(join(tmpdir(), 'mesoskit-completed-'));
    dirs.push(root);
    const cp = new Checkpoint(root);
    cp.agent(AGENT_ID, { hostname: 'localhost', resources: [] });
    cp.framework(AGENT_ID, frameworkInfo({ checkpoint: true }));
    cp.executor(AGENT_ID, FRAMEWORK_ID, testExecutor('e'), 'c', undefined);
    const complete = (id: string) => {
      const where = cp.task(AGENT_ID, FRAMEWORK_ID, 'e', 'c', task(id));
      cp.completed(where);
      return executor.rememberCompleted(id, where);
    };
    for (let n = 0; n < MAX_COMPLETED_TASKS; n++) expect(complete(`t${n}`)).toBeUndefined();
    expect(executor.completed('t0')).toBe(true);
    const dropped = complete('last');
    expect(dropped?.taskId).toBe('t0');
    expect(executor.completed('t0')).toBe(false);
    expect(executor.completed('last')).toBe(true);
    cp.removeTask(dropped!);
    cp.stop();

    // A recovery finds the remembered ones (as completed) and not the dropped one.
    const [run] = new Checkpoint(root).recover()!.executors;
    const found = new Set([...run!.completed, ...run!.tasks.map((t) => t.info.task_id.value)]);
    expect(found.has('last')).toBe(true);
    expect(found.has('t1')).toBe(true);
  });
});
