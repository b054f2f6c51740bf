/**
 * A run's task log (the checkpoint of its tasks): records appended, read back by recovery,
 * segments deleted once no live task has records in them, long-lived tasks moved forward.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo, connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { mesos } from '@mesoskit/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushTaskLogs, readRecords, readTaskLog, TaskLog } from '../../src/agent/task-log.js';
import { coalesceWrites, sendAccepted } from '../../src/http.js';
import { task } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function runDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mesoskit-task-log-'));
  dirs.push(dir);
  return dir;
}

const uuid = (n: number): Uint8Array => Uint8Array.from(Buffer.alloc(16, n));
const status = (id: string, state: mesos.v1.TaskState, n: number): mesos.v1.TaskStatus => ({
  task_id: { value: id },
  state,
  uuid: uuid(n),
});

/** A task through its whole life: launched, finished, acknowledged, completed. */
function runTask(log: TaskLog, id: string, data: Buffer, n: number): void {
  log.task({ ...task(id), data });
  log.update(status(id, 'TASK_FINISHED', n));
  log.ack(id, uuid(n));
  log.completed(id);
}

const segments = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort();

describe('task log', () => {
  it('reads back what was appended, in order', () => {
    const dir = runDir();
    const log = new TaskLog(dir);
    log.task({ ...task('a'), data: Buffer.from([0, 1, 255]) });
    log.update(status('a', 'TASK_RUNNING', 1));
    log.ack('a', uuid(1));
    log.task(task('b'));
    log.close();
    const { tasks } = readTaskLog(dir);
    expect([...tasks.keys()]).toEqual(['a', 'b']);
    const a = tasks.get('a')!;
    expect(a.info.data).toEqual(Uint8Array.from([0, 1, 255]));
    expect(a.updates.map((u) => u.state)).toEqual(['TASK_RUNNING']);
    expect([...a.acked]).toEqual([Buffer.from(uuid(1)).toString('hex')]);
    expect(tasks.get('b')!.updates).toEqual([]);
  });

  it('deletes a segment once no live task has records in it', () => {
    const dir = runDir();
    const log = new TaskLog(dir);
    const data = Buffer.alloc(64 * 1024, 7);
    // 4 MiB segments: about 64 tasks of 64 KiB each.
    for (let n = 0; n < 300; n++) {
      runTask(log, `t${n}`, data, n);
      flushTaskLogs(); // as at the end of an event loop iteration
      expect(segments(dir).length).toBeLessThanOrEqual(2);
    }
    log.close();
    const { tasks } = readTaskLog(dir);
    // What is left holds completed tasks only (the current segment is kept).
    for (const t of tasks.values()) expect(t.updates.at(-1)?.state).toBe('TASK_FINISHED');
  });

  it('moves long-lived tasks forward, so that their old segments can go', () => {
    const dir = runDir();
    const log = new TaskLog(dir);
    const data = Buffer.alloc(64 * 1024, 1);
    // Every 50th task stays live: each 4 MiB segment (64 tasks) is pinned by one or two.
    const long: string[] = [];
    let most = 0;
    for (let n = 0; n < 1200; n++) {
      if (n % 50 === 0) {
        const id = `long${n}`;
        long.push(id);
        log.task({ ...task(id), data });
        log.update(status(id, 'TASK_RUNNING', n % 250));
      } else {
        runTask(log, `t${n}`, data, n % 250);
      }
      flushTaskLogs();
      most = Math.max(most, segments(dir).length);
    }
    log.close();
    // 1,200 tasks of 64 KiB are 75 MiB, the long-lived ones 1.5 MiB: the segments stay within
    // twice that and 32 MiB (plus the current one).
    expect(most).toBeLessThanOrEqual(11);
    expect(segments(dir)).not.toContain('tasks.1.log');
    const { tasks } = readTaskLog(dir);
    for (const id of long) {
      const found = tasks.get(id);
      expect(found?.info.data, id).toEqual(Uint8Array.from(data));
      expect(
        found?.updates.map((u) => u.state),
        id,
      ).toEqual(['TASK_RUNNING']);
    }
  });

  it('a recovered log goes on in a new segment, and frees the old ones as its tasks complete', () => {
    const dir = runDir();
    const first = new TaskLog(dir);
    for (let n = 0; n < 3; n++) first.task(task(`t${n}`));
    first.update(status('t0', 'TASK_RUNNING', 1));
    first.close();
    const recovered = readTaskLog(dir);
    expect([...recovered.tasks.keys()]).toEqual(['t0', 't1', 't2']);
    const log = new TaskLog(dir, recovered);
    log.update(status('t0', 'TASK_FINISHED', 2));
    log.flush();
    expect(segments(dir)).toEqual(['tasks.1.log', 'tasks.2.log']);
    for (let n = 0; n < 3; n++) log.completed(`t${n}`);
    log.close();
    expect(segments(dir)).toEqual(['tasks.2.log']);
    expect(readTaskLog(dir).tasks.size).toBe(0); // an update without its TaskInfo is no task
  });

  it('writes nothing once its directory is gone, and a late record of a completed task is harmless', () => {
    const dir = join(runDir(), 'run');
    mkdirSync(dir);
    const log = new TaskLog(dir);
    runTask(log, 'a', Buffer.alloc(0), 1);
    log.update(status('a', 'TASK_FINISHED', 2)); // a duplicate after completion
    log.close();
    rmSync(dir, { recursive: true });
    expect(() => log.task(task('b'))).not.toThrow();
    log.gone();
    expect(() => log.update(status('b', 'TASK_RUNNING', 3))).not.toThrow();
  });

  it('keeps a bounded number of files open, however many runs write', () => {
    const dir = runDir();
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const before = fds();
    const logs: TaskLog[] = [];
    for (let n = 0; n < 200; n++) {
      const run = join(dir, String(n));
      mkdirSync(run);
      const log = new TaskLog(run);
      log.task(task(`t${n}`));
      log.flush();
      logs.push(log);
    }
    expect(fds() - before).toBeLessThanOrEqual(64);
    for (const log of logs) log.close();
    expect(fds()).toBeLessThanOrEqual(before);
    // Each log can still be written (it opens its file again) and read.
    logs[0]!.update(status('t0', 'TASK_RUNNING', 1));
    logs[0]!.close();
    expect(readTaskLog(join(dir, '0')).tasks.get('t0')!.updates).toHaveLength(1);
    // Many logs with records pending at once: each is written, whichever files get closed.
    for (const [n, log] of logs.entries()) log.update(status(`t${n}`, 'TASK_FINISHED', 2));
    flushTaskLogs();
    expect(fds() - before).toBeLessThanOrEqual(64);
    for (const [n, log] of logs.entries()) {
      log.close();
      const states = readTaskLog(join(dir, String(n)))
        .tasks.get(`t${n}`)!
        .updates.map((u) => u.state);
      expect(states.at(-1), `log ${n}`).toBe('TASK_FINISHED');
    }
  });

  it('writes its records before a coalesced answer leaves: what the client is told is on disk', async () => {
    const dir = runDir();
    const log = new TaskLog(dir);
    // The records on disk at the moment the answer's bytes are handed to the socket.
    const seen: number[] = [];
    const proto = Socket.prototype as unknown as { _writev: (...args: unknown[]) => unknown };
    const original = proto._writev;
    vi.spyOn(proto, '_writev').mockImplementation(function (this: Socket, ...args: unknown[]) {
      let records = 0;
      readRecords(join(dir, 'tasks.1.log'), () => {
        records++;
      });
      seen.push(records);
      return original.apply(this, args);
    });
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        // The answer first: its write is queued (and its flush scheduled) before the record.
        sendAccepted(res);
        log.update(status('a', 'TASK_FINISHED', 1));
      });
    });
    coalesceWrites(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      await new Promise<void>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('data', () => {
          socket.destroy();
          resolve();
        });
        socket.on('error', reject);
        socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
      });
      expect(seen).toEqual([1]);
    } finally {
      vi.restoreAllMocks();
      log.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
