/**
 * A run's task log (the checkpoint of its tasks): records appended, read back by recovery,
 * rewritten without the completed tasks once they outweigh the live ones.
 */

import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo, connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { mesos } from '@mesoskit/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushTaskLogs, readRecords, readTaskLog, TASK_LOG, TaskLog } from '../../src/agent/task-log.js';
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
const finished = (id: string, n: number): mesos.v1.TaskStatus => ({
  task_id: { value: id },
  state: 'TASK_FINISHED',
  uuid: uuid(n),
});

/** A task through its whole life: launched, finished, acknowledged, completed. */
function runTask(log: TaskLog, id: string, data: Buffer, n: number): void {
  log.task({ ...task(id), data });
  log.update(finished(id, n));
  log.ack(id, uuid(n));
  log.completed(id);
}

describe('task log', () => {
  it('reads back what was appended, in order', () => {
    const path = join(runDir(), TASK_LOG);
    const log = new TaskLog(path);
    log.task({ ...task('a'), data: Buffer.from([0, 1, 255]) });
    log.update({ task_id: { value: 'a' }, state: 'TASK_RUNNING', uuid: uuid(1) });
    log.ack('a', uuid(1));
    log.task(task('b'));
    log.close();
    const { contents } = readTaskLog(path);
    expect([...contents.tasks.keys()]).toEqual(['a', 'b']);
    const a = contents.tasks.get('a')!;
    expect(a.info.data).toEqual(Uint8Array.from([0, 1, 255]));
    expect(a.updates.map((u) => u.state)).toEqual(['TASK_RUNNING']);
    expect([...a.acked]).toEqual([Buffer.from(uuid(1)).toString('hex')]);
    expect(contents.tasks.get('b')!.updates).toEqual([]);
  });

  it('rewrites itself without completed tasks once they outweigh the live ones', () => {
    const path = join(runDir(), TASK_LOG);
    const log = new TaskLog(path);
    const data = Buffer.alloc(64 * 1024, 7);
    log.task({ ...task('live'), data });
    log.update({ task_id: { value: 'live' }, state: 'TASK_RUNNING', uuid: uuid(200) });
    let largest = 0;
    for (let n = 0; n < 100; n++) {
      runTask(log, `t${n}`, data, n);
      flushTaskLogs(); // as at the end of an event loop iteration
      largest = Math.max(largest, statSync(path).size);
      if (n < 90) log.forget(`t${n}`); // the agent remembers only the last ten
    }
    log.close();
    // Rewritten at least once (100 tasks of 64 KiB would be 6.4 MB), never more than twice the
    // 1 MiB garbage threshold plus the live records.
    expect(largest).toBeLessThan(3 * 1024 * 1024);
    const { contents } = readTaskLog(path);
    expect([...contents.tasks.keys()]).toContain('live');
    expect(contents.tasks.get('live')!.updates.map((u) => u.state)).toEqual(['TASK_RUNNING']);
    expect(contents.tasks.get('live')!.info.data).toEqual(Uint8Array.from(data));
    // The remembered ones are there by id (or, completed since the last rewrite, as records).
    const found = new Set([...contents.completed, ...contents.tasks.keys()]);
    for (let n = 90; n < 100; n++) expect(found.has(`t${n}`)).toBe(true);
    expect(found.has('t0')).toBe(false);
    expect(readdirSync(join(path, '..'))).toEqual([TASK_LOG]); // no temporary file left
  });

  it('keeps counting after recovery: a recovered log is rewritten as well', () => {
    const path = join(runDir(), TASK_LOG);
    const first = new TaskLog(path);
    const data = Buffer.alloc(64 * 1024, 1);
    for (let n = 0; n < 10; n++) first.task({ ...task(`t${n}`), data });
    first.close();
    const recovered = readTaskLog(path);
    const log = new TaskLog(path, recovered);
    for (let n = 0; n < 10; n++) {
      log.update(finished(`t${n}`, n));
      log.ack(`t${n}`, uuid(n));
      log.completed(`t${n}`);
      log.forget(`t${n}`);
    }
    for (let n = 10; n < 30; n++) {
      runTask(log, `t${n}`, data, n);
      log.forget(`t${n}`);
    }
    log.close();
    expect(statSync(path).size).toBeLessThan(1024 * 1024 + 64 * 1024 * 2);
  });

  it('writes nothing once its directory is gone, and a late record of a completed task is kept apart', () => {
    const dir = join(runDir(), 'run');
    mkdirSync(dir);
    const log = new TaskLog(join(dir, TASK_LOG));
    runTask(log, 'a', Buffer.alloc(0), 1);
    log.update(finished('a', 2)); // a duplicate after completion: garbage, not a live task
    log.close();
    rmSync(dir, { recursive: true });
    expect(() => log.task(task('b'))).not.toThrow();
    log.gone();
    expect(() => log.update(finished('b', 3))).not.toThrow();
  });

  it('keeps a bounded number of files open, however many runs write', () => {
    const dir = runDir();
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const before = fds();
    const logs: TaskLog[] = [];
    for (let n = 0; n < 200; n++) {
      const log = new TaskLog(join(dir, `${n}.log`));
      log.task(task(`t${n}`));
      logs.push(log);
    }
    expect(fds() - before).toBeLessThanOrEqual(64);
    for (const log of logs) log.close();
    expect(fds()).toBeLessThanOrEqual(before);
    // Each log can still be written (it opens its file again) and read.
    logs[0]!.update(finished('t0', 1));
    logs[0]!.close();
    expect(readTaskLog(join(dir, '0.log')).contents.tasks.get('t0')!.updates).toHaveLength(1);
  });

  it('writes its records before a coalesced answer leaves: what the client is told is on disk', async () => {
    const path = join(runDir(), TASK_LOG);
    const log = new TaskLog(path);
    // The records on disk at the moment the answer's bytes are handed to the socket.
    const seen: number[] = [];
    const proto = Socket.prototype as unknown as { _writev: (...args: unknown[]) => unknown };
    const original = proto._writev;
    vi.spyOn(proto, '_writev').mockImplementation(function (this: Socket, ...args: unknown[]) {
      let records = 0;
      readRecords(path, () => {
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
        log.update(finished('a', 1));
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
