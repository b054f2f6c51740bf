/**
 * An executor remembers its last MAX_COMPLETED_TASKS completed tasks; the checkpoint of one
 * that falls out is handed back, for the agent to remove its directory.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Checkpoint, type TaskUpdatesFile } from '../../src/agent/checkpoint.js';
import { Executor, MAX_COMPLETED_TASKS } from '../../src/agent/executors.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('completed tasks of a long-lived executor', () => {
  it('are remembered up to the limit; the oldest one past it is handed back and its directory removed', () => {
    const executor = new Executor({
      frameworkId: 'f',
      info: { executor_id: { value: 'e' }, command: { value: 'true' } },
      containerId: 'c',
      sandbox: '/nonexistent',
    });
    const root = mkdtempSync(join(tmpdir(), 'mesoskit-completed-'));
    dirs.push(root);
    const file = (n: number): TaskUpdatesFile => {
      const dir = join(root, `t${n}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'task.updates'), '');
      return { path: join(dir, 'task.updates') };
    };
    for (let n = 0; n < MAX_COMPLETED_TASKS; n++) {
      expect(executor.rememberCompleted(`t${n}`, file(n))).toBeUndefined();
    }
    expect(executor.completed('t0')).toBe(true);
    const dropped = executor.rememberCompleted('last', file(MAX_COMPLETED_TASKS));
    expect(dropped?.path).toBe(join(root, 't0', 'task.updates'));
    expect(executor.completed('t0')).toBe(false);
    expect(executor.completed('last')).toBe(true);

    const checkpoint = new Checkpoint(join(root, 'work'));
    checkpoint.removeTask(dropped!);
    expect(existsSync(join(root, 't0'))).toBe(false);
    expect(existsSync(join(root, 't1'))).toBe(true);
  });
});
