/**
 * The client's wire behaviour against the fake master: garbage in the event stream, stream id on
 * every call, acknowledgements with and without uuid, and reconnect backoff on fake timers.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Logger, SchedulerEvent, TaskStatus } from '@mesoskit/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type ConnectionStatus,
  MesosSchedulerClient,
  type MesosSchedulerClientOptions,
} from '../src/index.js';
import { FakeMaster, type Reply, within } from './fake-master.js';

const masters: FakeMaster[] = [];
const clients: MesosSchedulerClient[] = [];
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
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
    framework: { name: 'wire-test', failover_timeout: 3600 },
    reconnect: { initialMs: 10, maxMs: 50, jitter: 0 },
    ...options,
  });
  clients.push(client);
  return client;
}

/** Collects status() entries; `until(type, n)` waits (real clock) for the n-th of that type. */
function statusLog(client: MesosSchedulerClient) {
  const seen: ConnectionStatus[] = [];
  const waiters: (() => void)[] = [];
  void (async () => {
    for await (const s of client.status()) {
      seen.push(s);
      for (const w of waiters.splice(0)) w();
    }
  })();
  return {
    seen,
    of<T extends ConnectionStatus['type']>(type: T): Extract<ConnectionStatus, { type: T }>[] {
      return seen.filter((s): s is Extract<ConnectionStatus, { type: T }> => s.type === type);
    },
    async until(type: ConnectionStatus['type'], count = 1, timeoutMs = 3000): Promise<void> {
      await within(
        `${count} '${type}' status entries`,
        timeoutMs,
        (async () => {
          while (seen.filter((s) => s.type === type).length < count) {
            await new Promise<void>((resolve) => waiters.push(resolve));
          }
        })(),
      );
    },
  };
}

function warnings() {
  const entries: { message: string; meta: Record<string, unknown> | undefined }[] = [];
  const noop = () => {};
  const logger: Logger = {
    trace: noop,
    debug: noop,
    info: noop,
    warn: (message, meta) => void entries.push({ message, meta }),
    error: (message, meta) => void entries.push({ message, meta }),
  };
  return { logger, entries };
}

function uuidBytes(): Uint8Array {
  return Uint8Array.from(Buffer.from(randomUUID().replace(/-/g, ''), 'hex'));
}

function update(taskId: string, uuid: Uint8Array | undefined): SchedulerEvent {
  const status: TaskStatus = {
    task_id: { value: taskId },
    state: 'TASK_RUNNING',
    agent_id: { value: 'agent-1' },
    source: uuid ? 'SOURCE_EXECUTOR' : 'SOURCE_MASTER',
    ...(uuid && { uuid }),
  };
  return { type: 'UPDATE', update: { status } };
}

describe('garbage in the event stream: log, drop the connection, reconnect; never crash', () => {
  const cases: { name: string; encoding: 'json' | 'protobuf'; bytes: string; reason: RegExp }[] = [
    { name: 'a non-digit RecordIO length', encoding: 'json', bytes: 'x9\n{}', reason: /framing/ },
    {
      name: 'a RecordIO length beyond any sane record',
      encoding: 'protobuf',
      bytes: '999999999999999999999999\n',
      reason: /framing/,
    },
    { name: 'a record that is not JSON', encoding: 'json', bytes: '6\n{oops}', reason: /undecodable/ },
    {
      name: 'a record that is not protobuf',
      encoding: 'protobuf',
      bytes: '12\nnot protobuf',
      reason: /undecodable/,
    },
  ];
  for (const c of cases) {
    it(`${c.name} (${c.encoding})`, async () => {
      const m = await fakeMaster();
      const { logger, entries } = warnings();
      const client = await connect(m, { encoding: c.encoding, logger });
      const log = statusLog(client);
      const first = m.last;
      const socketClosed = new Promise<void>((resolve) => first.response.once('close', () => resolve()));
      first.response.write(c.bytes);
      await log.until('disconnected');
      await within('the client to drop the subscription connection', 2000, socketClosed);
      await log.until('subscribed');
      const disconnected = log.of('disconnected')[0]!;
      expect(disconnected.reason).toMatch(c.reason);
      expect(disconnected.error).toBeInstanceOf(Error);
      expect(entries).toContainEqual({
        message: 'disconnected',
        meta: expect.objectContaining({ reason: disconnected.reason, error: expect.any(Error) }),
      });
      expect(m.subscriptions).toHaveLength(2);
      expect(m.last.call.framework_id).toEqual({ value: m.frameworkId });
      expect(client.subscribed).toBe(true);
      await client.revive(); // and the client works on the new stream
    });
  }

  it('delivers the events decoded before an undecodable record, then reconnects', async () => {
    const m = await fakeMaster();
    const client = await connect(m, { encoding: 'json' });
    const log = statusLog(client);
    const offered = new Promise<string>((resolve) => client.on('offers', (o) => resolve(o[0]!.id.value)));
    const offers = JSON.stringify({
      type: 'OFFERS',
      offers: {
        offers: [
          { id: { value: 'o1' }, framework_id: { value: 'f' }, agent_id: { value: 'a' }, hostname: 'h' },
        ],
      },
    });
    // one chunk: a good record, then a bad one
    m.last.response.write(`${Buffer.byteLength(offers)}\n${offers}3\n{{{`);
    expect(await within('the offers before the garbage', 2000, offered)).toBe('o1');
    await log.until('subscribed');
    expect(log.of('disconnected')[0]!.reason).toMatch(/undecodable/);
  });

  it('a stream that ends in the middle of a record is a disconnect', async () => {
    const m = await fakeMaster();
    const client = await connect(m, { encoding: 'json' });
    const log = statusLog(client);
    m.last.response.end('50\n{"type":"HEART');
    await log.until('subscribed');
    expect(log.of('disconnected')[0]!.reason).toMatch(/ended/);
  });
});

describe('Mesos-Stream-Id', () => {
  it('is on every call of every typed method, never on SUBSCRIBE, and follows the new stream after a reconnect', async () => {
    const m = await fakeMaster();
    const client = await connect(m, { ack: 'manual', reconnect: { initialMs: 10, maxMs: 10, jitter: 0 } });
    const log = statusLog(client);
    const everyMethod = async () => {
      await client.accept(['o1'], [{ type: 'LAUNCH', launch: { task_infos: [] } }]);
      await client.launch(['o2'], []);
      await client.decline(['o3']);
      await client.revive();
      await client.suppress(['*']);
      await client.kill('t1');
      await client.shutdown('e1', 'a1');
      await client.acknowledge({ task_id: { value: 't1' }, agent_id: { value: 'a1' }, uuid: uuidBytes() });
      await client.reconcile([{ taskId: 't1' }]);
      await client.message('a1', 'e1', Uint8Array.of(1));
      await client.request([]);
      await client.updateFramework({ name: 'wire-test', user: 'u' });
      await client.call({ type: 'ACKNOWLEDGE_OPERATION_STATUS' });
    };
    await everyMethod();
    const firstStream = m.last.streamId;
    const before = m.requests.length;
    m.last.destroy();
    await log.until('subscribed');
    await everyMethod();
    await client.teardown();

    const subscribes = m.requests.filter((r) => r.call.type === 'SUBSCRIBE');
    expect(subscribes).toHaveLength(2);
    for (const r of subscribes) expect(r.headers['mesos-stream-id']).toBeUndefined();
    const firstCalls = m.requests.slice(1, before);
    // the same 13, the implicit RECONCILE after the resubscribe, and TEARDOWN
    const secondCalls = m.requests.slice(before).filter((r) => r.call.type !== 'SUBSCRIBE');
    expect(firstCalls).toHaveLength(13);
    expect(secondCalls).toHaveLength(15);
    expect(secondCalls.filter((r) => r.call.type === 'RECONCILE')).toHaveLength(2);
    for (const r of firstCalls) {
      expect(r.headers['mesos-stream-id'], r.call.type).toBe(firstStream);
      expect(r.call.framework_id, r.call.type).toEqual({ value: m.frameworkId });
    }
    for (const r of secondCalls) {
      expect(r.headers['mesos-stream-id'], r.call.type).toBe(m.last.streamId);
      expect(r.call.framework_id, r.call.type).toEqual({ value: m.frameworkId });
    }
    expect(m.last.streamId).not.toBe(firstStream);
  });
});

describe('call connection', () => {
  it('calls made all at once reach the master in the order made, on one connection apart from the subscription', async () => {
    const m = await fakeMaster();
    const client = await connect(m);
    const n = 200;
    await Promise.all(Array.from({ length: n }, (_, i) => client.kill(`t-${i}`)));
    const kills = m.requests.filter((r) => r.call.type === 'KILL');
    expect(kills.map((r) => r.call.kill?.task_id.value)).toEqual(
      Array.from({ length: n }, (_, i) => `t-${i}`),
    );
    const ports = new Set(kills.map((r) => r.remotePort));
    expect(ports.size).toBe(1);
    expect(ports.has(m.requests[0]!.remotePort)).toBe(false);
  });
});

describe('callbacks under fake timers', () => {
  it("vi.useFakeTimers() with vitest's defaults does not hold callbacks back", async () => {
    const m = await fakeMaster();
    m.afterSubscribed = [
      {
        type: 'OFFERS',
        offers: {
          offers: [
            { id: { value: 'o1' }, framework_id: { value: 'f' }, agent_id: { value: 'a' }, hostname: 'h' },
          ],
        },
      },
    ];
    vi.useFakeTimers();
    const client = await connect(m);
    const offered = new Promise<string>((resolve) => client.on('offers', (o) => resolve(o[0]!.id.value)));
    expect(await within('an offers callback', 2000, offered)).toBe('o1');
  });
});

describe('redirects of calls', () => {
  it('follows a 307 with a scheme-less Location on a call, re-POSTing the same body; bounded by maxRedirects', async () => {
    const m = await fakeMaster();
    const other = await fakeMaster();
    const client = await connect(m, { maxRedirects: 2 });
    const otherPort = new URL(other.url).port;
    m.respond = (r) =>
      r.call.type === 'REVIVE'
        ? { status: 307, headers: { Location: `//127.0.0.1:${otherPort}/master/api/v1/scheduler` } }
        : 'default';
    await client.revive(['*']);
    const [sent] = m.requests.filter((r) => r.call.type === 'REVIVE');
    const [followed] = other.requests;
    expect(followed!.path).toBe('/master/api/v1/scheduler');
    expect(followed!.raw.equals(sent!.raw)).toBe(true);
    expect(followed!.headers['mesos-stream-id']).toBe(m.last.streamId);

    m.respond = (r) =>
      r.call.type === 'SUPPRESS'
        ? { status: 307, headers: { Location: `${m.url}/api/v1/scheduler` } }
        : 'default';
    await expect(client.suppress()).rejects.toThrow(/too many redirects/);
    expect(m.requests.filter((r) => r.call.type === 'SUPPRESS')).toHaveLength(3);
  });
});

describe('call timeout', () => {
  it('a call the master never answers rejects after callTimeoutMs; the next call gets a fresh connection', async () => {
    const m = await fakeMaster();
    // 1 s: the same timeout covers SUBSCRIBE, which must not time out on a loaded machine
    const client = await connect(m, { callTimeoutMs: 1000 });
    m.respond = (r) => (r.call.type === 'KILL' ? new Promise<Reply>(() => {}) : 'default');
    const started = performance.now();
    const err = await within(
      'the KILL to time out',
      5000,
      client.kill('t1').catch((e: unknown) => e),
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect(err).toMatchObject({ name: 'CallTimeoutError', code: 'CALL_TIMEOUT' });
    await client.revive();
    const [kill, revive] = m.requests.slice(-2);
    expect(revive!.call.type).toBe('REVIVE');
    expect(revive!.remotePort).not.toBe(kill!.remotePort);
    expect(client.subscribed).toBe(true);
  });
});

describe('acknowledgements', () => {
  it('auto: acks updates with uuid (echoing the uuid bytes exactly), never those without', async () => {
    const m = await fakeMaster();
    const client = await connect(m, { encoding: 'json' });
    const handled: string[] = [];
    const done = new Promise<void>((resolve) =>
      client.on('update', (s) => {
        handled.push(s.task_id.value);
        if (handled.length === 4) resolve();
      }),
    );
    const uuids = [uuidBytes(), uuidBytes()];
    m.last.send(update('master-generated', undefined));
    m.last.send(update('with-uuid-1', uuids[0]));
    m.last.send(update('reconciliation', undefined));
    m.last.send(update('with-uuid-2', uuids[1]));
    await within('four update callbacks', 2000, done);
    await m.waitForRequest(
      'two ACKNOWLEDGE calls',
      () => m.requests.filter((r) => r.call.type === 'ACKNOWLEDGE').length === 2,
    );
    const acks = m.requests.filter((r) => r.call.type === 'ACKNOWLEDGE');
    expect(acks.map((r) => r.call.acknowledge?.task_id.value)).toEqual(['with-uuid-1', 'with-uuid-2']);
    // JSON: the uuid goes back as the same base64 the event carried
    for (const [i, r] of acks.entries()) {
      const body = JSON.parse(r.raw.toString('utf8')) as { acknowledge: { uuid: string } };
      expect(body.acknowledge.uuid).toBe(Buffer.from(uuids[i]!).toString('base64'));
    }
  });

  it('auto: an ACK in flight does not hold up the next update; it counts as buffered until answered', async () => {
    const m = await fakeMaster();
    let release!: () => void;
    const answered = new Promise<void>((resolve) => {
      release = resolve;
    });
    m.respond = async (r): Promise<Reply> => {
      if (r.call.type === 'ACKNOWLEDGE') await answered;
      return 'default';
    };
    const client = await connect(m);
    const second = new Promise<void>((resolve) =>
      client.on('update', (s) => {
        if (s.task_id.value === 'second') resolve();
      }),
    );
    m.last.send(update('first', uuidBytes()));
    await m.waitForCall('ACKNOWLEDGE');
    m.last.send(update('second', uuidBytes()));
    // the first ACK is still unanswered, and the second update's callback ran anyway
    await within("the second update's callback", 2000, second);
    expect(client.bufferedEvents).toBeGreaterThanOrEqual(1);
    release();
    await m.waitForRequest(
      'two ACKNOWLEDGE calls',
      () => m.requests.filter((r) => r.call.type === 'ACKNOWLEDGE').length === 2,
    );
    await within(
      'the buffer to drain',
      2000,
      (async () => {
        while (client.bufferedEvents > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      })(),
    );
  });

  it('manual: acknowledge(status) sends the uuid; without uuid (or agent_id) it rejects and sends nothing', async () => {
    const m = await fakeMaster();
    const client = await connect(m, { ack: 'manual' });
    const got: TaskStatus[] = [];
    const two = new Promise<void>((resolve) =>
      client.on('update', (s) => {
        got.push(s);
        if (got.length === 2) resolve();
      }),
    );
    const uuid = uuidBytes();
    m.last.send(update('with-uuid', uuid));
    m.last.send(update('without-uuid', undefined));
    await within('two updates', 2000, two);
    expect(m.requests.some((r) => r.call.type === 'ACKNOWLEDGE')).toBe(false);
    await client.acknowledge(got[0]!);
    await expect(client.acknowledge(got[1]!)).rejects.toThrow(/without uuid/);
    await expect(
      client.acknowledge({ task_id: { value: 'no-agent' }, uuid: uuidBytes() }),
    ).rejects.toBeInstanceOf(TypeError);
    const acks = m.requests.filter((r) => r.call.type === 'ACKNOWLEDGE');
    expect(acks.map((r) => r.call.acknowledge)).toEqual([
      { agent_id: { value: 'agent-1' }, task_id: { value: 'with-uuid' }, uuid },
    ]);
  });
});

describe('reconnect backoff (fake timers)', () => {
  it('waits exactly min(maxMs, initialMs·2^(n−1)) minus jitter before each attempt, then resets', async () => {
    const m = await fakeMaster();
    // jitter 0.5 with random() = 0.5: each delay loses a quarter
    const client = await connect(m, {
      reconnect: { initialMs: 1000, maxMs: 8000, jitter: 0.5 },
      random: () => 0.5,
    });
    const log = statusLog(client);
    const requests = vi.spyOn(http, 'request');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    m.respond = (r) => (r.call.type === 'SUBSCRIBE' ? { status: 503, body: 'No leader elected' } : 'default');
    m.last.destroy();
    const expected = [750, 1500, 3000, 6000, 6000];
    for (const [i, delayMs] of expected.entries()) {
      await log.until('reconnecting', i + 1);
      expect(log.of('reconnecting')[i]).toEqual({ type: 'reconnecting', attempt: i + 1, delayMs });
      if (i === expected.length - 1) m.respond = () => 'default';
      const sent = requests.mock.calls.length;
      await vi.advanceTimersByTimeAsync(delayMs - 1);
      expect(requests.mock.calls.length, `attempt ${i + 1} before ${delayMs} ms`).toBe(sent);
      await vi.advanceTimersByTimeAsync(1);
      expect(requests.mock.calls.length, `attempt ${i + 1} at ${delayMs} ms`).toBe(sent + 1);
      await m.waitForRequest(
        `SUBSCRIBE attempt ${i + 1}`,
        () => m.requests.filter((r) => r.call.type === 'SUBSCRIBE').length >= i + 2,
      );
    }
    await log.until('subscribed');
    // the fake master stamped each SUBSCRIBE with the fake clock: the gaps are the delays
    const stamps = m.requests.filter((r) => r.call.type === 'SUBSCRIBE').map((r) => r.at);
    expect(stamps.slice(1).map((t, i) => t - stamps[i]!)).toEqual([expect.any(Number), ...expected.slice(1)]);
    // a successful subscription resets the backoff
    m.last.destroy();
    await log.until('reconnecting', expected.length + 1);
    expect(log.of('reconnecting').at(-1)).toEqual({ type: 'reconnecting', attempt: 1, delayMs: 750 });
  });
});
