import type { mesos } from '@mesoskit/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StatusUpdateManager } from '../../src/agent/index.js';
import { uuidBytes } from './helpers.js';

const status = (taskId: string, state: mesos.v1.TaskState): mesos.v1.TaskStatus => ({
  task_id: { value: taskId },
  state,
  uuid: uuidBytes(),
});

describe('StatusUpdateManager (fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resends after 10 s, 20 s, 40 s … capped at 10 min, and stops after the ack', () => {
    const sent: number[] = [];
    const manager = new StatusUpdateManager(() => sent.push(Date.now()));
    const start = Date.now();
    const head = status('t', 'TASK_RUNNING');
    manager.update('f', head);
    vi.advanceTimersByTime(10_000 + 20_000 + 40_000);
    expect(sent.map((t) => t - start)).toEqual([0, 10_000, 30_000, 70_000]);
    vi.advanceTimersByTime(2 * 3600_000);
    const gaps = sent.slice(1).map((t, i) => t - sent[i]!);
    expect(Math.max(...gaps)).toBe(600_000);
    expect(manager.acknowledge('f', 't', head.uuid!)).toBe(true);
    const count = sent.length;
    vi.advanceTimersByTime(3600_000);
    expect(sent).toHaveLength(count);
    manager.stop();
  });

  it('deletes a stream after its terminal update is acknowledged; ignores unknown acks and duplicates', () => {
    const sent: mesos.v1.TaskStatus[] = [];
    const manager = new StatusUpdateManager((_f, s) => sent.push(s));
    const finished = status('t', 'TASK_FINISHED');
    expect(manager.update('f', finished)).toBe(true);
    expect(manager.update('f', finished)).toBe(false);
    expect(manager.acknowledge('f', 't', uuidBytes())).toBe(false);
    expect(manager.acknowledge('f', 't', finished.uuid!)).toBe(true);
    expect(manager.pending('f', 't')).toEqual([]);
    vi.advanceTimersByTime(60_000);
    expect(sent).toHaveLength(1);
    manager.stop();
  });

  it('removeFramework drops the streams and their timers', () => {
    const sent: mesos.v1.TaskStatus[] = [];
    const manager = new StatusUpdateManager((_f, s) => sent.push(s), { initialMs: 100, maxMs: 100 });
    manager.update('f', status('a', 'TASK_RUNNING'));
    manager.update('g', status('b', 'TASK_RUNNING'));
    manager.removeFramework('f');
    vi.advanceTimersByTime(100);
    expect(sent.map((s) => s.task_id.value)).toEqual(['a', 'b', 'b']);
    manager.stop();
  });
});
