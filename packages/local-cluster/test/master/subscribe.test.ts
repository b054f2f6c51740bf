import { afterEach, describe, expect, it } from 'vitest';
import type { LocalMaster } from '../../src/master/index.js';
import { capturedRecords, EventStream, FakeAgent, frameworkInfo, startMaster, subscribe } from './helpers.js';

let master: LocalMaster | undefined;
afterEach(async () => {
  await master?.stop();
  master = undefined;
});

describe('SUBSCRIBE', () => {
  it('answers 200 with Mesos-Stream-Id, then SUBSCRIBED and an immediate HEARTBEAT', async () => {
    master = await startMaster();
    const stream = await subscribe(
      master.url,
      frameworkInfo({ capabilities: [{ type: 'MULTI_ROLE' }], roles: ['*'] }),
    );
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('application/json');
    expect(stream.headers['transfer-encoding']).toBe('chunked');
    expect(stream.streamId).toMatch(/^[0-9a-f-]{36}$/);
    const subscribed = stream.events[0]!;
    expect(subscribed.type).toBe('SUBSCRIBED');
    const id = master.masterInfo.id;
    expect(subscribed.subscribed!.framework_id.value).toBe(`${id}-0000`);
    expect(subscribed.subscribed!.heartbeat_interval_seconds).toBe(15);
    const info = subscribed.subscribed!.master_info!;
    expect(info).toMatchObject({
      id,
      ip: 16777343,
      port: master.masterInfo.port,
      pid: `master@127.0.0.1:${master.masterInfo.port}`,
      hostname: 'localhost',
      version: '1.12.0',
      address: { hostname: 'localhost', ip: '127.0.0.1', port: master.masterInfo.port },
      capabilities: [{ type: 'AGENT_UPDATE' }, { type: 'AGENT_DRAINING' }, { type: 'QUOTA_V2' }],
    });
    await stream.next('HEARTBEAT');
    expect(stream.events.map((e) => e.type).slice(0, 2)).toEqual(['SUBSCRIBED', 'HEARTBEAT']);
    stream.close();
  });

  it('writes the SUBSCRIBED record byte-compatible with capture 01 (one record per chunk)', async () => {
    master = await startMaster({ masterId: '6e1a5c42-a3a3-4d76-99e3-86670051a92d', port: 0 });
    const stream = await subscribe(
      master.url,
      frameworkInfo({ capabilities: [{ type: 'MULTI_ROLE' }], roles: ['*'] }),
    );
    await stream.next('HEARTBEAT');
    const raw = capturedRecords('01-scheduler-subscribe-json', '01-subscribe')[0]!;
    const expected = raw.replaceAll('5050', String(master.masterInfo.port));
    expect(stream.chunks[0]?.toString('utf8')).toBe(`${Buffer.byteLength(expected)}\n${expected}`);
    expect(stream.chunks[1]?.toString('utf8')).toBe('20\n{"type":"HEARTBEAT"}');
    stream.close();
  });

  it('sends heartbeats every interval', async () => {
    master = await startMaster({ heartbeatIntervalMs: 50 });
    const stream = await subscribe(master.url);
    await stream.next('HEARTBEAT');
    await stream.next('HEARTBEAT', 1000);
    await stream.next('HEARTBEAT', 1000);
    stream.close();
  });

  it('streams protobuf when asked', async () => {
    master = await startMaster();
    const stream = await subscribe(master.url, frameworkInfo(), { encoding: 'protobuf' });
    expect(stream.headers['content-type']).toBe('application/x-protobuf');
    expect(stream.events[0]?.type).toBe('SUBSCRIBED');
    await stream.next('HEARTBEAT');
    // protobuf HEARTBEAT record = "2\n" 08 08
    expect(Buffer.concat(stream.chunks).includes(Buffer.from([0x32, 0x0a, 0x08, 0x08]))).toBe(true);
    stream.close();
  });

  it('adopts an unknown framework id', async () => {
    master = await startMaster();
    const id = `${master.masterInfo.id}-9999`;
    const stream = await subscribe(master.url, frameworkInfo(), { frameworkId: id });
    expect(stream.frameworkId).toBe(id);
    stream.close();
  });

  it('refuses invalid roles with 200 + ERROR + end of stream', async () => {
    master = await startMaster();
    const stream = await subscribe(master.url, frameworkInfo({ roles: ['a'] }));
    expect(stream.status).toBe(200);
    expect(stream.events[0]).toEqual({
      type: 'ERROR',
      error: {
        message: "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable",
      },
    });
    await stream.end();
  });

  it('a second SUBSCRIBE fails the first stream over and tells the agents', async () => {
    master = await startMaster();
    const agent = await FakeAgent.register(master);
    const first = await subscribe(master.url, frameworkInfo({ failover_timeout: 60 }));
    await first.next('OFFERS');
    const second = await subscribe(master.url, frameworkInfo({ failover_timeout: 60 }), {
      frameworkId: first.frameworkId,
    });
    expect(second.frameworkId).toBe(first.frameworkId);
    expect(second.streamId).not.toBe(first.streamId);
    const error = await first.next('ERROR');
    expect(error.error?.message).toBe('Framework failed over');
    await first.end();
    expect(first.events.some((e) => e.type === 'RESCIND')).toBe(false);
    // the discarded offer comes back on the new stream
    await second.next('OFFERS');
    await agent.waitFor('updateFramework', (c) => c.framework.id?.value === first.frameworkId);
    second.close();
  });

  it('rejects a body that is not a SUBSCRIBE stream but keeps serving', async () => {
    master = await startMaster();
    const stream = new EventStream('json');
    await stream.open(master.url, new TextEncoder().encode('{"type":"SUBSCRIBE"'));
    expect(stream.status).toBe(400);
    await stream.end();
  });
});

describe('SUBSCRIBE refusals (200 + ERROR)', () => {
  const cases: [Partial<import('@mesoskit/protocol').FrameworkInfo>, string[] | undefined, string][] = [
    [
      { capabilities: [{ type: 'MULTI_ROLE' }], role: 'a' },
      undefined,
      "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable",
    ],
    [
      { capabilities: [{ type: 'MULTI_ROLE' }], roles: ['a', 'a'] },
      undefined,
      "'FrameworkInfo.roles' contains duplicate items: a",
    ],
    [
      { capabilities: [{ type: 'MULTI_ROLE' }], roles: ['-bad'] },
      undefined,
      "'FrameworkInfo.roles' contains invalid role: -bad",
    ],
    [{ role: 'a b' }, undefined, "'FrameworkInfo.role' is not a valid role: a b"],
    [
      { capabilities: [{ type: 'MULTI_ROLE' }], roles: ['a'] },
      ['b'],
      'Suppressed roles { b } are not contained in the set of roles',
    ],
  ];
  for (const [extra, suppressed, message] of cases) {
    it(message, async () => {
      master = await startMaster();
      const stream = await subscribe(
        master.url,
        frameworkInfo(extra),
        suppressed ? { suppressedRoles: suppressed } : {},
      );
      expect(stream.status).toBe(200);
      expect(stream.events).toEqual([{ type: 'ERROR', error: { message } }]);
      await stream.end();
    });
  }
});

describe('UPDATE_FRAMEWORK roles', () => {
  it('rescinds offers of a removed role and offers the new one', async () => {
    master = await startMaster();
    await FakeAgent.register(master);
    const info = frameworkInfo({ capabilities: [{ type: 'MULTI_ROLE' }], roles: ['a'] });
    const stream = await subscribe(master.url, info);
    const offers = await stream.offers();
    expect(offers[0]?.allocation_info?.role).toBe('a');
    const { call } = await import('./helpers.js');
    const r = await call(
      master.url,
      {
        framework_id: { value: stream.frameworkId },
        type: 'UPDATE_FRAMEWORK',
        update_framework: { framework_info: { ...info, roles: ['b'], id: { value: stream.frameworkId } } },
      },
      { streamId: stream.streamId },
    );
    expect(r.status).toBe(200);
    const rescind = await stream.next('RESCIND');
    expect(rescind.rescind?.offer_id).toEqual(offers[0]?.id);
    const [next] = await stream.offers();
    expect(next?.allocation_info?.role).toBe('b');
    expect(next?.resources?.every((res) => res.allocation_info?.role === 'b' && res.role === '*')).toBe(true);
    stream.close();
  });
});
