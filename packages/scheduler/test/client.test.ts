import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { SchedulerEvent, TaskStatus } from '@mesoskit/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ConnectionStatus,
  MesosHttpError,
  MesosSchedulerClient,
  type MesosSchedulerClientOptions,
  NotSubscribedError,
  resolveSchedulerClientOptions,
  SubscriptionLostError,
} from '../src/index.js';
import { FakeMaster, within } from './fake-master.js';

const masters: FakeMaster[] = [];
const clients: MesosSchedulerClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(masters.splice(0).map((m) => m.stop()));
});

async function fakeMaster(): Promise<FakeMaster> {
  const m = await FakeMaster.start();
  masters.push(m);
  return m;
}

async function connect(
  master: FakeMaster | string | string[],
  options: Partial<MesosSchedulerClientOptions> = {},
): Promise<MesosSchedulerClient> {
  const client = await MesosSchedulerClient.connect({
    master: master instanceof FakeMaster ? master.url : master,
    framework: { name: 'test', failover_timeout: 3600 },
    reconnect: { initialMs: 10, maxMs: 50, jitter: 0 },
    ...options,
  });
  clients.push(client);
  return client;
}

/** Collects status() entries; `until(type)` waits (with a timeout) for the next one of that type. */
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

function update(taskId: string, withUuid: boolean): SchedulerEvent {
  const status: TaskStatus = {
    task_id: { value: taskId },
    state: 'TASK_RUNNING',
    agent_id: { value: 'agent-1' },
    source: withUuid ? 'SOURCE_EXECUTOR' : 'SOURCE_MASTER',
    ...(withUuid && { uuid: Uint8Array.from(Buffer.from(randomUUID().replace(/-/g, ''), 'hex')) }),
  };
  return { type: 'UPDATE', update: { status } };
}

describe('MesosSchedulerClient against a fake master', () => {
  for (const encoding of ['protobuf', 'json'] as const) {
    it(`subscribes (${encoding}) and captures the framework id and stream id`, async () => {
      const m = await fakeMaster();
      const client = await connect(m, { encoding });
      expect(client.frameworkId).toBe(m.frameworkId);
      expect(client.streamId).toBe(m.last.streamId);
      const [sub] = m.requests;
      expect(sub!.path).toBe('/api/v1/scheduler');
      expect(sub!.headers['content-type']).toBe(
        encoding === 'json' ? 'application/json' : 'application/x-protobuf',
      );
      expect(sub!.headers.accept).toBe(sub!.headers['content-type']);
      expect(sub!.headers['mesos-stream-id']).toBeUndefined();
      expect(sub!.call.framework_id).toBeUndefined();
      expect(sub!.call.subscribe?.framework_info).toMatchObject({ name: 'test', user: userInfo().username });
      expect(sub!.call.subscribe?.framework_info.id).toBeUndefined();
    });
  }

  it('sends calls with Mesos-Stream-Id, framework_id, the encoding and Basic auth, on another connection', async () => {
    const m = await fakeMaster();
    const client = await connect(m, { encoding: 'json', credentials: { principal: 'p', secret: 's' } });
    await client.decline(['o1', 'o2'], { refuse_seconds: 60 });
    await client.revive(['*']);
    await client.kill('t1', 'a1');
    await client.reconcile();
    await client.message('a1', 'e1', Uint8Array.of(1, 2, 3));
    await client.updateFramework({ name: 'test', user: 'x' });
    await client.launch(
      [{ value: 'o3' }],
      [{ name: 't', task_id: { value: 't' }, agent_id: { value: 'a1' } }],
      {
        refuse_seconds: 0,
      },
    );
    const launch = m.requests.at(-1)!;
    expect(launch.call.type).toBe('ACCEPT');
    expect(launch.call.accept?.offer_ids).toEqual([{ value: 'o3' }]);
    expect(launch.call.accept?.operations?.[0]?.type).toBe('LAUNCH');
    expect(launch.call.accept?.operations?.[0]?.launch?.task_infos?.[0]?.task_id).toEqual({ value: 't' });
    expect(launch.call.accept?.filters).toEqual({ refuse_seconds: 0 });
    const calls = m.requests.slice(1, -1);
    expect(calls.map((r) => r.call.type)).toEqual([
      'DECLINE',
      'REVIVE',
      'KILL',
      'RECONCILE',
      'MESSAGE',
      'UPDATE_FRAMEWORK',
    ]);
    for (const r of calls) {
      expect(r.headers['mesos-stream-id']).toBe(m.last.streamId);
      expect(r.headers.authorization).toBe(`Basic ${Buffer.from('p:s').toString('base64')}`);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.call.framework_id).toEqual({ value: m.frameworkId });
    }
    expect(m.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from('p:s').toString('base64')}`);
    expect(calls[0]!.call.decline).toEqual({
      offer_ids: [{ value: 'o1' }, { value: 'o2' }],
      filters: { refuse_seconds: 60 },
    });
    expect(calls[2]!.call.kill).toEqual({ task_id: { value: 't1' }, agent_id: { value: 'a1' } });
    expect(calls[3]!.call.reconcile).toBeDefined();
    expect([...calls[4]!.call.message!.data]).toEqual([1, 2, 3]);
    expect(calls[5]!.call.update_framework?.framework_info.id).toEqual({ value: m.frameworkId });
    // the subscription stream is still open while calls were answered: calls used their own socket
    expect(client.subscribed).toBe(true);
  });

  it('rejects a refused call with a typed MesosHttpError carrying status and body', async () => {
    const m = await fakeMaster();
    m.respond = (r) =>
      r.call.type === 'KILL' ? { status: 403, body: 'Framework is not subscribed' } : 'default';
    const client = await connect(m);
    const err = await client.kill('t1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MesosHttpError);
    expect(err).toMatchObject({ status: 403, body: 'Framework is not subscribed', code: 'MESOS_HTTP_ERROR' });
    // UPDATE_FRAMEWORK expects 200: a 202 is an error there
    m.respond = (r) => (r.call.type === 'UPDATE_FRAMEWORK' ? { status: 202 } : 'default');
    await expect(client.updateFramework({ name: 'x', user: 'y' })).rejects.toMatchObject({ status: 202 });
  });

  it('rejects calls after close() with NotSubscribedError, and closed() resolves undefined', async () => {
    const m = await fakeMaster();
    const client = await connect(m);
    await client.close();
    await expect(client.revive()).rejects.toBeInstanceOf(NotSubscribedError);
    await expect(client.closed()).resolves.toBeUndefined();
  });

  it('dispatches offers, rescinds, messages and failures to callbacks and to events()', async () => {
    const m = await fakeMaster();
    const client = await connect(m);
    const iterator = client.events()[Symbol.asyncIterator]();
    const got: string[] = [];
    const offered = new Promise<string>((resolve) =>
      client.on('offers', (offers) => resolve(offers[0]!.id.value)),
    );
    client.on('rescind', (id) => void got.push(`rescind ${id}`));
    const failed = new Promise<void>((resolve) => client.on('failure', () => resolve()));
    m.last.send({
      type: 'OFFERS',
      offers: {
        offers: [
          { id: { value: 'o1' }, framework_id: { value: 'f' }, agent_id: { value: 'a' }, hostname: 'h' },
        ],
      },
    });
    m.last.send({ type: 'RESCIND', rescind: { offer_id: { value: 'o1' } } });
    m.last.send({ type: 'FAILURE', failure: { agent_id: { value: 'a' } } });
    expect(await within('an offers callback', 2000, offered)).toBe('o1');
    await within('a failure callback', 2000, failed);
    expect(got).toEqual(['rescind o1']);
    const event = await within('an OFFERS event from events()', 2000, iterator.next());
    expect(event.value?.type).toBe('OFFERS');
  });

  it('auto-acknowledges an update with uuid after the update callbacks resolved, never one without', async () => {
    const m = await fakeMaster();
    const client = await connect(m);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reached!: () => void;
    const reachedWithUuid = new Promise<void>((resolve) => {
      reached = resolve;
    });
    client.on('update', async (status) => {
      if (status.task_id.value !== 'with-uuid') return;
      reached();
      await gate;
    });
    m.last.send(update('no-uuid', false));
    const withUuid = update('with-uuid', true);
    m.last.send(withUuid);
    await within('the with-uuid update reaching the callback', 2000, reachedWithUuid);
    expect(m.requests.some((r) => r.call.type === 'ACKNOWLEDGE')).toBe(false);
    release();
    const ack = await m.waitForCall('ACKNOWLEDGE');
    expect(ack.call.acknowledge).toEqual({
      agent_id: { value: 'agent-1' },
      task_id: { value: 'with-uuid' },
      uuid: withUuid.update!.status.uuid,
    });
    expect(m.requests.filter((r) => r.call.type === 'ACKNOWLEDGE')).toHaveLength(1);
  });

  it('does not acknowledge when an update callback rejects, nor in manual mode', async () => {
    const m = await fakeMaster();
    const failing = await connect(m);
    const done = new Promise<void>((resolve) =>
      failing.on('update', () => {
        resolve();
        throw new Error('handler broke');
      }),
    );
    m.last.send(update('t1', true));
    await within('the update callback', 2000, done);
    await failing.close();

    const m2 = await fakeMaster();
    const manual = await connect(m2, { ack: 'manual' });
    const got = new Promise<TaskStatus>((resolve) => manual.on('update', resolve));
    m2.last.send(update('t2', true));
    const status = await within('the manual-mode update', 2000, got);
    await manual.close();
    expect([...m.requests, ...m2.requests].some((r) => r.call.type === 'ACKNOWLEDGE')).toBe(false);
    expect(status.uuid).toBeInstanceOf(Uint8Array);
  });

  it('follows a 307 with a scheme-less Location, re-POSTing the same body, and sends calls to the leader', async () => {
    const leader = await fakeMaster();
    const follower = await fakeMaster();
    const leaderPort = new URL(leader.url).port;
    follower.respond = () => ({
      status: 307,
      headers: { Location: `//127.0.0.1:${leaderPort}/master/api/v1/scheduler` },
    });
    const client = await connect(follower);
    expect(client.frameworkId).toBe(leader.frameworkId);
    expect(leader.requests[0]!.path).toBe('/master/api/v1/scheduler');
    expect(leader.requests[0]!.raw).toEqual(follower.requests[0]!.raw);
    await client.suppress();
    expect(leader.requests[1]!.call.type).toBe('SUPPRESS');
    expect(follower.requests).toHaveLength(1);
  });

  it('moves on to the next master on 503 and gives up after too many redirects', async () => {
    const down = await fakeMaster();
    down.respond = () => ({ status: 503, body: 'No leader elected' });
    const up = await fakeMaster();
    const client = await connect([down.url, up.url]);
    expect(client.frameworkId).toBe(up.frameworkId);

    const loop = await fakeMaster();
    loop.respond = () => ({ status: 307, headers: { Location: `${loop.url}/api/v1/scheduler` } });
    await expect(connect(loop, { maxRedirects: 2 })).rejects.toThrow(/too many redirects/);
    expect(loop.requests).toHaveLength(3);
  });

  it('rejects connect() with a MesosHttpError on a 4xx and a SubscriptionLostError on an ERROR event', async () => {
    const m = await fakeMaster();
    m.respond = () => ({ status: 401, body: '' });
    await expect(connect(m)).rejects.toMatchObject({ name: 'MesosHttpError', status: 401 });
    const refused = await fakeMaster();
    refused.refuseWith = "'FrameworkInfo.roles' contains invalid role: 'a b'";
    const err = await connect(refused).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SubscriptionLostError);
    expect((err as Error).message).toContain('contains invalid role');
    expect(refused.subscriptions).toHaveLength(1);
  });

  it('reconnects after the master drops the stream and resubscribes with the same framework id', async () => {
    const m = await fakeMaster();
    const client = await connect(m, { encoding: 'json' });
    const log = statusLog(client);
    const disconnected = new Promise<string>((resolve) =>
      client.on('disconnected', (i) => resolve(i.reason)),
    );
    const oldStream = m.last.streamId;
    m.last.destroy();
    await within('a disconnected callback', 2000, disconnected);
    await expect(client.revive()).rejects.toBeInstanceOf(NotSubscribedError);
    await log.until('subscribed');
    expect(m.subscriptions).toHaveLength(2);
    const resub = m.last.call;
    expect(resub.framework_id).toEqual({ value: m.frameworkId });
    expect(resub.subscribe?.framework_info.id).toEqual({ value: m.frameworkId });
    expect(client.streamId).toBe(m.last.streamId);
    expect(client.streamId).not.toBe(oldStream);
    expect(log.seen.map((s) => s.type)).toEqual(['disconnected', 'reconnecting', 'subscribed']);
    await client.revive();
    expect(m.requests.at(-1)!.headers['mesos-stream-id']).toBe(m.last.streamId);
  });

  it('keeps retrying with capped exponential backoff and jitter while the master refuses', async () => {
    const m = await fakeMaster();
    // jitter 0.5 with random() = 1 halves every delay: 10·2^n capped at 40, halved
    const client = await connect(m, {
      reconnect: { initialMs: 10, maxMs: 40, jitter: 0.5 },
      random: () => 1,
    });
    const log = statusLog(client);
    m.respond = (r) =>
      r.call.type === 'SUBSCRIBE' ? { status: 503, body: 'Master has not finished recovery' } : 'default';
    m.last.end();
    await log.until('reconnecting', 4);
    m.respond = () => 'default';
    await log.until('subscribed');
    const delays = log.seen.flatMap((s) => (s.type === 'reconnecting' ? [s.delayMs] : []));
    expect(delays.slice(0, 4)).toEqual([5, 10, 20, 20]);
  });

  it('reconnects when heartbeats stop (watchdog from heartbeat_interval_seconds)', async () => {
    const m = await fakeMaster();
    m.heartbeatIntervalSeconds = 0.02;
    const client = await connect(m, { heartbeatMissedIntervals: 3 });
    const log = statusLog(client);
    // the fake master never sends another heartbeat: ~60 ms later the watchdog fires
    await log.until('heartbeat-missed');
    await log.until('subscribed');
    expect(m.subscriptions.length).toBeGreaterThanOrEqual(2);
    expect(m.subscriptions[1]!.call.framework_id).toEqual({ value: m.frameworkId });
  });

  it('treats garbage in the stream as a disconnect, not a crash', async () => {
    const m = await fakeMaster();
    const client = await connect(m);
    const log = statusLog(client);
    m.last.response.write('12\nnot protobuf');
    await log.until('disconnected');
    await log.until('subscribed');
    expect(client.subscribed).toBe(true);
  });

  it('closes with SubscriptionLostError on an ERROR event and does not reconnect', async () => {
    const m = await fakeMaster();
    const client = await connect(m);
    const errors: string[] = [];
    client.on('error', (msg) => void errors.push(msg));
    m.last.send({ type: 'ERROR', error: { message: 'Framework failed over' } });
    m.last.end();
    const err = await within('closed() to resolve', 2000, client.closed());
    expect(err).toBeInstanceOf(SubscriptionLostError);
    expect(errors).toEqual(['Framework failed over']);
    expect(m.subscriptions).toHaveLength(1);
  });

  it('speaks https to a master whose certificate is signed by a custom CA', async () => {
    const tls = {
      key: readFileSync(new URL('./fixtures/master-key.pem', import.meta.url)),
      cert: readFileSync(new URL('./fixtures/master-cert.pem', import.meta.url)),
    };
    const m = await FakeMaster.start({ tls });
    masters.push(m);
    await expect(connect(m)).rejects.toThrow(/certificate/);
    const client = await connect(m, { ca: tls.cert });
    await client.revive();
    expect(m.requests.at(-1)!.call.type).toBe('REVIVE');
  });

  it('close() aborts a resubscription in flight', async () => {
    const m = await fakeMaster();
    const client = await connect(m);
    const log = statusLog(client);
    m.silent = true; // the next SUBSCRIBE gets 200 and then nothing
    m.last.destroy();
    await m.waitForRequest('a second SUBSCRIBE', (r) => r.call.type === 'SUBSCRIBE', { from: 1 });
    await client.close();
    await log.until('closed');
    expect(log.seen.map((s) => s.type)).toEqual(['disconnected', 'reconnecting', 'closed']);
    expect(client.subscribed).toBe(false);
  });

  it('gives up on a 200 stream that never sends SUBSCRIBED after callTimeoutMs', async () => {
    const m = await fakeMaster();
    m.silent = true;
    // 1 s, not less: the 200 head must arrive within the same timeout even on a cold, loaded CI
    // machine, so that what times out is the wait for SUBSCRIBED.
    await expect(connect(m, { callTimeoutMs: 1000 })).rejects.toThrow(/no SUBSCRIBED event within 1000 ms/);
  });

  it('rejects a second events() consumer and ends events() and status() on close', async () => {
    const m = await fakeMaster();
    const client = await connect(m);
    const events = client.events();
    expect(() => client.events()).toThrow(/single consumer/);
    const statuses: string[] = [];
    const statusDone = (async () => {
      for await (const s of client.status()) statuses.push(s.type);
    })();
    const eventsDone = (async () => {
      for await (const _ of events);
    })();
    await client.close();
    await within('events() and status() to end', 2000, Promise.all([statusDone, eventsDone]));
    expect(statuses).toEqual(['closed']);
  });
});

describe('resolveSchedulerClientOptions', () => {
  it('applies defaults and rejects bad options with InvalidOptionsError naming the field', () => {
    const r = resolveSchedulerClientOptions({ master: 'http://m:5050', framework: { name: 'x' } });
    expect(r.masters.map(String)).toEqual(['http://m:5050/api/v1/scheduler']);
    expect(r).toMatchObject({
      encoding: 'protobuf',
      ack: 'auto',
      heartbeatMissedIntervals: 5,
      maxRedirects: 5,
      reconcileOnResubscribe: 'implicit',
      eventBuffer: { highWaterMark: 1024, lowWaterMark: 256 },
      debug: false,
      frameworkIdStore: undefined,
    });
    // a small high-water mark gets a low-water mark below it
    expect(
      resolveSchedulerClientOptions({
        master: 'http://m',
        framework: { name: 'x' },
        eventBuffer: { highWaterMark: 8 },
      }).eventBuffer,
    ).toEqual({ highWaterMark: 8, lowWaterMark: 2 });
    expect(r.framework.user).toBe(userInfo().username);
    expect(
      resolveSchedulerClientOptions({
        master: ['http://a/master/api/v1/scheduler'],
        framework: { name: 'x' },
      }).masters[0]!.pathname,
    ).toBe('/master/api/v1/scheduler');
    const bad: [Partial<MesosSchedulerClientOptions>, RegExp][] = [
      [{ master: [] }, /master/],
      [{ master: 'ftp://x' }, /http/],
      [{ framework: { name: '' } }, /framework.name/],
      [{ encoding: 'xml' as 'json' }, /encoding/],
      [{ ack: 'sometimes' as 'auto' }, /ack/],
      [{ reconnect: { initialMs: 100, maxMs: 10 } }, /reconnect.maxMs/],
      [{ heartbeatMissedIntervals: 0 }, /heartbeatMissedIntervals/],
      [{ eventBuffer: { highWaterMark: 0 } }, /eventBuffer.highWaterMark/],
      [{ eventBuffer: { highWaterMark: 10, lowWaterMark: 20 } }, /lowWaterMark/],
      [{ reconcileOnResubscribe: 'always' as 'none' }, /reconcileOnResubscribe/],
      [{ frameworkIdStore: {} as never }, /frameworkIdStore/],
    ];
    for (const [patch, message] of bad) {
      expect(() =>
        resolveSchedulerClientOptions({ master: 'http://m', framework: { name: 'x' }, ...patch }),
      ).toThrow(
        expect.objectContaining({ name: 'InvalidOptionsError', message: expect.stringMatching(message) }),
      );
    }
  });
});
