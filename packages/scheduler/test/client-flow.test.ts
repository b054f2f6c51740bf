/**
 * Event-stream backpressure, reconciliation after a resumed subscription, and debug wire tracing.
 */
import { once } from 'node:events';
import type { Logger, SchedulerEvent } from '@mesoskit/protocol';
import { encodeRecord, schedulerEvent } from '@mesoskit/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type ConnectionStatus,
  MesosSchedulerClient,
  type MesosSchedulerClientOptions,
} from '../src/index.js';
import { FakeMaster, within } from './fake-master.js';

const masters: FakeMaster[] = [];
const clients: MesosSchedulerClient[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(masters.splice(0).map((m) => m.stop()));
});

async function fakeMaster(): Promise<FakeMaster> {
  const m = await FakeMaster.start();
  masters.push(m);
  return m;
}

async function connect(
  master: FakeMaster,
  options: Partial<MesosSchedulerClientOptions> = {},
): Promise<MesosSchedulerClient> {
  const client = await MesosSchedulerClient.connect({
    master: master.url,
    framework: { name: 'flow-test', failover_timeout: 3600 },
    reconnect: { initialMs: 10, maxMs: 50, jitter: 0 },
    ...options,
  });
  clients.push(client);
  return client;
}

interface Entry {
  level: keyof Logger;
  message: string;
  meta: Record<string, unknown> | undefined;
}

/** A logger that keeps every entry; `until(message)` waits for the next entry with it. */
function capturingLogger() {
  const entries: Entry[] = [];
  const waiters: (() => void)[] = [];
  const at =
    (level: keyof Logger) =>
    (message: string, meta?: Record<string, unknown>): void => {
      entries.push({ level, message, meta });
      for (const w of waiters.splice(0)) w();
    };
  const logger: Logger = {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
  return {
    logger,
    entries,
    count: (message: string) => entries.filter((e) => e.message === message).length,
    async until(message: string, count = 1, timeoutMs = 5000): Promise<void> {
      await within(
        `${count} '${message}' log entries`,
        timeoutMs,
        (async () => {
          while (entries.filter((e) => e.message === message).length < count) {
            await new Promise<void>((resolve) => waiters.push(resolve));
          }
        })(),
      );
    },
  };
}

const RECORD_DATA_BYTES = 16 * 1024;

/** UPDATE events without uuid (never acknowledged), each carrying 16 KiB of data. */
function bigUpdates(count: number): Buffer[] {
  const data = new Uint8Array(RECORD_DATA_BYTES).fill(7);
  return Array.from({ length: count }, (_, i) => {
    const event: SchedulerEvent = {
      type: 'UPDATE',
      update: {
        status: { task_id: { value: `t-${i}` }, state: 'TASK_RUNNING', source: 'SOURCE_MASTER', data },
      },
    };
    return Buffer.from(encodeRecord(schedulerEvent.encode(event, 'protobuf')));
  });
}

/** Writes every record, waiting for 'drain' whenever the socket pushes back. */
async function writeAll(master: FakeMaster, records: Buffer[]): Promise<void> {
  const res = master.last.response;
  for (const record of records) {
    if (!res.write(record)) await once(res, 'drain');
  }
}

/** One record per socket read at most 64 KiB: the records of one read that overshoot the mark. */
const SLACK = Math.ceil((64 * 1024) / RECORD_DATA_BYTES) + 2;

describe('backpressure on the event stream', () => {
  it('a slow events() consumer pauses reading at the high-water mark; nothing is lost', async () => {
    const m = await fakeMaster();
    const log = capturingLogger();
    const highWaterMark = 40;
    const client = await connect(m, { logger: log.logger, eventBuffer: { highWaterMark, lowWaterMark: 10 } });
    const events = client.events()[Symbol.asyncIterator]();
    const total = 600; // 9.6 MiB
    const writing = writeAll(m, bigUpdates(total));
    // Nobody reads yet: the client fills its buffer up to the mark and stops reading the socket.
    await log.until('event buffer full, pausing the event stream');
    // (ACKs of buffered updates may be answered since: count at the pause itself.)
    const pause = log.entries.find((e) => e.message === 'event buffer full, pausing the event stream');
    expect(pause?.meta?.buffered).toBeGreaterThanOrEqual(highWaterMark);
    expect(client.bufferedEvents).toBeLessThanOrEqual(highWaterMark + SLACK);
    let max = 0;
    const seen: string[] = [];
    while (seen.length < total) {
      const { value, done } = await within(`update ${seen.length}`, 10_000, events.next());
      if (done) throw new Error('events() ended early');
      max = Math.max(max, client.bufferedEvents);
      if (value.type === 'UPDATE') seen.push(value.update!.status.task_id.value);
      // a slow consumer: give the event loop (and the socket) a turn per event
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await within('the fake master to finish writing', 5000, writing);
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => `t-${i}`));
    expect(max).toBeLessThanOrEqual(highWaterMark + SLACK);
    // paused and resumed more than once
    expect(log.count('event buffer drained, resuming the event stream')).toBeGreaterThan(1);
    // the subscription survived the pauses
    expect(client.subscribed).toBe(true);
    expect(m.subscriptions).toHaveLength(1);
  });

  it('slow update callbacks pause reading too; every update reaches them in order', async () => {
    const m = await fakeMaster();
    const log = capturingLogger();
    const highWaterMark = 30;
    const client = await connect(m, { logger: log.logger, eventBuffer: { highWaterMark, lowWaterMark: 5 } });
    const total = 400;
    const seen: string[] = [];
    let max = 0;
    const all = new Promise<void>((resolve) =>
      client.on('update', async (status) => {
        max = Math.max(max, client.bufferedEvents);
        await new Promise<void>((r) => setImmediate(r));
        seen.push(status.task_id.value);
        if (seen.length === total) resolve();
      }),
    );
    const writing = writeAll(m, bigUpdates(total));
    await within(`${total} update callbacks`, 20_000, all);
    await within('the fake master to finish writing', 5000, writing);
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => `t-${i}`));
    expect(max).toBeLessThanOrEqual(highWaterMark + SLACK);
    expect(log.count('event buffer full, pausing the event stream')).toBeGreaterThan(0);
    expect(client.bufferedEvents).toBe(0);
  });

  it('the heartbeat watchdog is off while paused (silence is ours) and back on after resuming', async () => {
    const m = await fakeMaster();
    m.heartbeatIntervalSeconds = 1; // watchdog: 3 intervals = 3 s of fake time
    const log = capturingLogger();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const client = await connect(m, {
      logger: log.logger,
      heartbeatMissedIntervals: 3,
      eventBuffer: { highWaterMark: 20, lowWaterMark: 5 },
    });
    const statuses: ConnectionStatus['type'][] = [];
    void (async () => {
      for await (const s of client.status()) statuses.push(s.type);
    })();
    const events = client.events()[Symbol.asyncIterator]();
    const total = 300;
    const writing = writeAll(m, bigUpdates(total));
    await log.until('event buffer full, pausing the event stream');
    // far past the watchdog's limit: nothing, the master is not to blame
    await vi.advanceTimersByTimeAsync(60_000);
    expect(statuses).toEqual([]);
    let updates = 0;
    while (updates < total) {
      const { value, done } = await within(`update ${updates}`, 10_000, events.next());
      if (done) throw new Error('events() ended early');
      if (value.type === 'UPDATE') updates++;
    }
    await within('the fake master to finish writing', 5000, writing);
    expect(m.subscriptions).toHaveLength(1);
    // resumed: the watchdog runs again, and the fake master sends no heartbeats
    await vi.advanceTimersByTimeAsync(3000);
    expect(statuses[0]).toBe('heartbeat-missed');
  });

  it('rejects a low-water mark that is not below the high-water mark', async () => {
    const m = await fakeMaster();
    await expect(connect(m, { eventBuffer: { highWaterMark: 10, lowWaterMark: 10 } })).rejects.toMatchObject({
      name: 'InvalidOptionsError',
      message: expect.stringMatching(/lowWaterMark/),
    });
  });
});

describe('callbacks', () => {
  it('run in event order: an async callback holds back later events; one that throws is logged and the next still runs', async () => {
    const m = await fakeMaster();
    const log = capturingLogger();
    const client = await connect(m, { logger: log.logger });
    const events = client.events()[Symbol.asyncIterator]();
    const seen: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started!: () => void;
    const firstStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    client.on('rescind', async (id) => {
      seen.push(`rescind ${id} start`);
      started();
      if (id === 'o-1') await held;
      seen.push(`rescind ${id} end`);
    });
    client.on('rescind', (id) => {
      if (id === 'o-2') throw new Error('boom');
    });
    const allSeen = new Promise<void>((resolve) =>
      client.on('update', (status) => {
        seen.push(`update ${status.task_id.value}`);
        if (status.task_id.value === 't-2') resolve();
      }),
    );
    const update = (id: string): SchedulerEvent => ({
      type: 'UPDATE',
      update: { status: { task_id: { value: id }, state: 'TASK_RUNNING', source: 'SOURCE_MASTER' } },
    });
    m.last.send({ type: 'RESCIND', rescind: { offer_id: { value: 'o-1' } } });
    m.last.send(update('t-1'));
    m.last.send({ type: 'RESCIND', rescind: { offer_id: { value: 'o-2' } } });
    m.last.send(update('t-2'));
    await within('the first rescind callback to start', 5000, firstStarted);
    // Every event has arrived (events() sees them as they are read): none overtook the first.
    for (let n = 0; n < 4; n++) await within(`event ${n + 1} of 4`, 5000, events.next());
    expect(seen).toEqual(['rescind o-1 start']);
    release();
    await within('the update callbacks', 5000, allSeen);
    expect(seen).toEqual([
      'rescind o-1 start',
      'rescind o-1 end',
      'update t-1',
      'rescind o-2 start',
      'rescind o-2 end',
      'update t-2',
    ]);
    expect(log.entries.find((e) => e.message === 'listener failed')?.meta).toMatchObject({
      event: 'rescind',
    });
  });
});

describe('reconcileOnResubscribe', () => {
  it("'implicit' (default): an implicit RECONCILE follows every resumed SUBSCRIBED, not a new framework's", async () => {
    const m = await fakeMaster();
    const client = await connect(m);
    const resubscribed = new Promise<boolean>((resolve) =>
      client.on('subscribed', (info) => {
        if (info.resubscribed) resolve(info.resumed);
      }),
    );
    m.last.destroy();
    expect(await within('a resubscription', 3000, resubscribed)).toBe(true);
    const reconcile = await m.waitForCall('RECONCILE');
    // implicit: the reconcile sub-message is present (Mesos requires it) and lists no task
    expect(reconcile.call.reconcile).toBeDefined();
    expect(reconcile.call.reconcile?.tasks ?? []).toEqual([]);
    expect(reconcile.headers['mesos-stream-id']).toBe(m.last.streamId);
    expect(reconcile.call.framework_id).toEqual({ value: m.frameworkId });
    // one RECONCILE, after the second SUBSCRIBE; none after the first (a new framework)
    const types = m.requests.map((r) => r.call.type);
    expect(types.filter((t) => t === 'RECONCILE')).toHaveLength(1);
    expect(types.indexOf('RECONCILE')).toBeGreaterThan(types.lastIndexOf('SUBSCRIBE'));
  });

  it("'implicit' also reconciles after connect() resumed a framework by id", async () => {
    const m = await fakeMaster();
    const client = await connect(m, { framework: { name: 'x', id: { value: 'known-fw' } } });
    expect(client.frameworkId).toBe('known-fw');
    const reconcile = await m.waitForCall('RECONCILE');
    expect(reconcile.call.framework_id).toEqual({ value: 'known-fw' });
  });

  it("'none': no RECONCILE after a resubscribe (the caller reconciles its own tasks)", async () => {
    const m = await fakeMaster();
    const client = await connect(m, { reconcileOnResubscribe: 'none' });
    const resubscribed = new Promise<void>((resolve) =>
      client.on('subscribed', async (info) => {
        if (!info.resubscribed) return;
        // what TaskScheduler does instead: explicit reconciliation of the tasks it tracks
        await client.reconcile([{ taskId: 't1', agentId: 'a1' }]);
        resolve();
      }),
    );
    m.last.destroy();
    await within('the resubscription and its explicit reconcile', 3000, resubscribed);
    const reconciles = m.requests.filter((r) => r.call.type === 'RECONCILE');
    expect(reconciles.map((r) => r.call.reconcile)).toEqual([
      { tasks: [{ task_id: { value: 't1' }, agent_id: { value: 'a1' } }] },
    ]);
  });

  it('rejects an unknown value', async () => {
    await expect(
      connect(await fakeMaster(), { reconcileOnResubscribe: 'explicit' as 'none' }),
    ).rejects.toMatchObject({ name: 'InvalidOptionsError' });
  });
});

describe('debug wire tracing', () => {
  it('logs every call sent and event received at trace, with type and sizes, never credentials', async () => {
    const m = await fakeMaster();
    const log = capturingLogger();
    const secret = 'hunter2-very-secret';
    const client = await connect(m, {
      logger: log.logger,
      debug: true,
      encoding: 'json',
      credentials: { principal: 'ops', secret },
    });
    await client.revive();
    m.last.send({ type: 'HEARTBEAT' });
    await log.until('event received', 3);
    const traces = log.entries.filter((e) => e.level === 'trace');
    const sent = traces.filter((e) => e.message === 'call sent').map((e) => e.meta);
    expect(sent).toEqual([
      expect.objectContaining({ type: 'SUBSCRIBE', bytes: m.requests[0]!.raw.byteLength }),
      expect.objectContaining({ type: 'REVIVE', bytes: m.requests[1]!.raw.byteLength }),
    ]);
    const answered = traces.filter((e) => e.message === 'call answered').map((e) => e.meta);
    expect(answered).toEqual([
      expect.objectContaining({ type: 'SUBSCRIBE', status: 200 }),
      expect.objectContaining({ type: 'REVIVE', status: 202, bytes: 0, ms: expect.any(Number) }),
    ]);
    const received = traces.filter((e) => e.message === 'event received').map((e) => e.meta);
    expect(received.slice(0, 3)).toEqual([
      expect.objectContaining({ type: 'SUBSCRIBED', bytes: expect.any(Number) }),
      { type: 'HEARTBEAT', bytes: Buffer.byteLength('{"type":"HEARTBEAT"}'), framework: 'flow-test' },
      { type: 'HEARTBEAT', bytes: Buffer.byteLength('{"type":"HEARTBEAT"}'), framework: 'flow-test' },
    ]);
    // nothing logged anywhere carries the secret, its Basic encoding, or any header
    const everything = JSON.stringify(log.entries);
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(Buffer.from(`ops:${secret}`).toString('base64'));
    expect(everything.toLowerCase()).not.toContain('authorization');
    expect(everything.toLowerCase()).not.toContain('basic ');
    // while the master did receive the header
    expect(m.requests[1]!.headers.authorization).toMatch(/^Basic /);
  });

  it('logs nothing at trace without debug', async () => {
    const m = await fakeMaster();
    const log = capturingLogger();
    const client = await connect(m, { logger: log.logger });
    await client.revive();
    expect(log.entries.filter((e) => e.level === 'trace')).toEqual([]);
  });
});
