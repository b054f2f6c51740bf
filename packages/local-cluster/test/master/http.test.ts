import { afterEach, describe, expect, it } from 'vitest';
import type { LocalMaster } from '../../src/master/index.js';
import { call, FakeAgent, frameworkInfo, rawRequest, session, startMaster, subscribe } from './helpers.js';

let master: LocalMaster | undefined;
afterEach(async () => {
  await master?.stop();
  master = undefined;
});

const JSON_HEADERS = { 'Content-Type': 'application/json' };
const TEXT = 'text/plain; charset=utf-8';

describe('scheduler endpoint errors (capture 08)', () => {
  it('405 for GET on both paths, with Allow: POST', async () => {
    master = await startMaster();
    for (const path of ['/api/v1/scheduler', '/master/api/v1/scheduler']) {
      const r = await rawRequest(master.url, { method: 'GET', path });
      expect(r.status).toBe(405);
      expect(r.headers.allow).toBe('POST');
      expect(r.headers['content-type']).toBe(TEXT);
      expect(r.body).toBe("405 Method Not Allowed. Expecting one of { 'POST' }, but received 'GET'.");
    }
  });

  it('400 without Content-Type, 415 for parameters or other types', async () => {
    master = await startMaster();
    const body = '{"type":"SUBSCRIBE"}';
    let r = await rawRequest(master.url, { body });
    expect([r.status, r.body]).toEqual([400, "Expecting 'Content-Type' to be present"]);
    for (const type of ['application/json; charset=utf-8', 'text/plain']) {
      r = await rawRequest(master.url, { body, headers: { 'Content-Type': type } });
      expect([r.status, r.body]).toEqual([
        415,
        "Expecting 'Content-Type' of application/json or application/x-protobuf",
      ]);
    }
  });

  it('406 when Accept allows neither encoding', async () => {
    master = await startMaster();
    const r = await rawRequest(master.url, {
      headers: { ...JSON_HEADERS, Accept: 'text/html' },
      body: JSON.stringify({ type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'u', name: 'n' } } }),
    });
    expect([r.status, r.body]).toEqual([
      406,
      "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'",
    ]);
  });

  it('content negotiation: JSON wins whenever acceptable', async () => {
    master = await startMaster();
    const cases: [string, string][] = [
      ['application/x-protobuf', 'application/x-protobuf'],
      ['application/x-protobuf, application/json;q=0.1', 'application/json'],
      ['*/*', 'application/json'],
      ['application/*', 'application/json'],
      ['application/json;q=0, application/x-protobuf', 'application/x-protobuf'],
    ];
    for (const [accept, expected] of cases) {
      const stream = await subscribe(master.url, frameworkInfo());
      stream.close();
      const s2 = new (await import('./helpers.js')).EventStream('json');
      await s2.open(
        master.url,
        new TextEncoder().encode(
          JSON.stringify({ type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'u', name: 'n' } } }),
        ),
        { Accept: accept },
      );
      expect(s2.status).toBe(200);
      expect(s2.headers['content-type']).toBe(expected);
      s2.close();
    }
  });

  it('decode and validation errors use Mesos texts', async () => {
    master = await startMaster();
    const post = (body: string) => rawRequest(master!.url, { headers: JSON_HEADERS, body });
    let r = await post('{"type":');
    expect(r.status).toBe(400);
    expect(r.body.startsWith('Failed to parse body into JSON: ')).toBe(true);
    r = await post('{}');
    expect([r.status, r.body]).toEqual([
      400,
      "Failed to validate scheduler::Call: Expecting 'type' to be present",
    ]);
    r = await post('{"type":"NOPE"}');
    expect([r.status, r.body]).toEqual([
      400,
      "Failed to validate scheduler::Call: Expecting 'type' to be present",
    ]);
    r = await post('{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"x"}}}');
    expect([r.status, r.body]).toEqual([
      400,
      'Failed to convert JSON into Call protobuf: Missing required fields: subscribe.framework_info.user',
    ]);
    r = await post('{"type":"SUBSCRIBE"}');
    expect(r.body).toBe("Failed to validate scheduler::Call: Expecting 'subscribe' to be present");
    r = await post(
      '{"framework_id":{"value":"a"},"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","id":{"value":"b"}}}}',
    );
    expect(r.body).toBe(
      "Failed to validate scheduler::Call: 'framework_id' differs from 'subscribe.framework_info.id'",
    );
    r = await post('{"type":"REVIVE"}');
    expect(r.body).toBe("Failed to validate scheduler::Call: Expecting 'framework_id' to be present");
    for (const [type, field] of [
      ['ACCEPT', 'accept'],
      ['DECLINE', 'decline'],
      ['KILL', 'kill'],
      ['SHUTDOWN', 'shutdown'],
      ['ACKNOWLEDGE', 'acknowledge'],
      ['RECONCILE', 'reconcile'],
      ['MESSAGE', 'message'],
      ['REQUEST', 'request'],
      ['UPDATE_FRAMEWORK', 'update_framework'],
    ]) {
      r = await post(`{"framework_id":{"value":"f"},"type":"${type}"}`);
      expect([r.status, r.body]).toEqual([
        400,
        `Failed to validate scheduler::Call: Expecting '${field}' to be present`,
      ]);
    }
    r = await post('{"framework_id":"abc","type":"REVIVE"}');
    expect(r.body).toBe(
      "Failed to convert JSON into Call protobuf: Not expecting a JSON string for field 'framework_id'",
    );
    r = await rawRequest(master.url, {
      headers: { 'Content-Type': 'application/x-protobuf' },
      body: Uint8Array.from([0xff, 0xff, 0xff, 0x01, 0x02]),
    });
    expect([r.status, r.body]).toEqual([400, 'Failed to parse body into Call protobuf']);
    expect(r.headers['content-type']).toBe(TEXT);
  });

  it('stream id and framework checks in Mesos order', async () => {
    master = await startMaster();
    await FakeAgent.register(master);
    const s = await session(master.url);
    const fw = s.frameworkId;
    const revive = { framework_id: { value: fw }, type: 'REVIVE' as const };
    let r = await call(
      master.url,
      { type: 'SUBSCRIBE', subscribe: { framework_info: frameworkInfo() } },
      {
        streamId: s.stream.streamId,
      },
    );
    expect([r.status, r.body]).toEqual([
      400,
      "Subscribe calls should not include the 'Mesos-Stream-Id' header",
    ]);
    r = await call(master.url, revive);
    expect([r.status, r.body]).toEqual([
      400,
      "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
    ]);
    r = await call(master.url, revive, { streamId: 'not-a-uuid' });
    expect([r.status, r.body]).toEqual([
      400,
      `The stream ID 'not-a-uuid' included in this request didn't match the stream ID currently associated with framework ID ${fw}`,
    ]);
    r = await call(
      master.url,
      { ...revive, framework_id: { value: `${fw}x` } },
      { streamId: s.stream.streamId },
    );
    expect([r.status, r.body]).toEqual([400, 'Framework cannot be found']);
    r = await call(master.url, { ...revive, framework_id: { value: `${fw}x` } });
    expect([r.status, r.body]).toEqual([400, 'Framework cannot be found']);
    r = await call(
      master.url,
      { framework_id: { value: fw }, type: 'UNKNOWN' },
      { streamId: s.stream.streamId },
    );
    expect([r.status, r.body]).toEqual([501, '501 Not Implemented.']);
    r = await call(master.url, revive, { streamId: s.stream.streamId });
    expect(r.status).toBe(202);
    expect(r.headers['content-length']).toBe('0');
    expect(r.body).toBe('');
    r = await rawRequest(master.url, {
      headers: { ...JSON_HEADERS, 'Mesos-Stream-Id': s.stream.streamId },
      body: JSON.stringify({ framework_id: { value: fw }, type: 'REVIVE', nonsense: { a: 1 } }),
    });
    expect(r.status).toBe(202);
    s.stream.close();
  });

  it('403 once the subscription is gone (failover timeout pending)', async () => {
    master = await startMaster();
    const s = await session(master.url, frameworkInfo({ failover_timeout: 60 }));
    const streamId = s.stream.streamId;
    s.stream.close();
    const fw = s.frameworkId;
    // Wait until the master noticed the disconnect (each round trip is a real request).
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline) {
      const r = await call(master.url, { framework_id: { value: fw }, type: 'REVIVE' }, { streamId });
      if (r.status === 403) {
        expect(r.body).toBe('Framework is not subscribed');
        return;
      }
      expect(r.status).toBe(202);
    }
    throw new Error('never got 403');
  });

  it('garbage and huge bodies get 4xx and other streams keep working', async () => {
    master = await startMaster({ heartbeatIntervalMs: 30 });
    const s = await session(master.url);
    const bodies: (string | Uint8Array)[] = [
      '\u0000\u0001garbage',
      '[]',
      'null',
      '{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":5,"name":[]}}}',
      '{"type":"ACCEPT","framework_id":{"value":"x"},"accept":{"offer_ids":"nope"}}',
      '9'.repeat(100_000),
      `{"type":"REVIVE","pad":"${'x'.repeat(12 * 1024 * 1024)}"}`,
    ];
    for (const body of bodies) {
      const r = await rawRequest(master.url, { headers: JSON_HEADERS, body });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(r.body.length).toBeGreaterThan(0);
    }
    const before = s.stream.events.length;
    await s.stream.next((e) => e.type === 'HEARTBEAT' && s.stream.events.length > before);
    expect((await s.call({ type: 'REVIVE' })).status).toBe(202);
    s.stream.close();
  });
});

describe('authentication (capture 14)', () => {
  const credentials = [{ principal: 'capture-principal', secret: 'capture-secret' }];
  const basic = (p: string, s: string) => `Basic ${Buffer.from(`${p}:${s}`).toString('base64')}`;

  it('401 with WWW-Authenticate for missing or wrong credentials, even before the method check', async () => {
    master = await startMaster({ credentials });
    for (const auth of [
      undefined,
      basic('capture-principal', 'nope'),
      basic('x', 'y'),
      'Basic !!!',
      'Bearer abc',
    ]) {
      const r = await rawRequest(master.url, {
        headers: { ...JSON_HEADERS, ...(auth ? { Authorization: auth } : {}) },
        body: '{}',
      });
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Basic realm="mesos-master-scheduler"');
      expect(r.body).toBe('401 Unauthorized.');
    }
    const r = await rawRequest(master.url, { method: 'GET' });
    expect(r.status).toBe(401);
  });

  it('principal mismatch is a validation error; a matching principal subscribes', async () => {
    master = await startMaster({ credentials });
    const auth = { Authorization: basic('capture-principal', 'capture-secret') };
    let r = await rawRequest(master.url, {
      headers: { ...JSON_HEADERS, ...auth },
      body: JSON.stringify({
        type: 'SUBSCRIBE',
        subscribe: { framework_info: { user: 'root', name: 'n', principal: 'other' } },
      }),
    });
    expect([r.status, r.body]).toEqual([
      400,
      "Failed to validate scheduler::Call: Authenticated principal 'capture-principal' does not match principal 'other' set in `FrameworkInfo`",
    ]);
    const { EventStream } = await import('./helpers.js');
    const stream = new EventStream('json');
    await stream.open(
      master.url,
      { type: 'SUBSCRIBE', subscribe: { framework_info: frameworkInfo() } },
      auth,
    );
    expect(stream.status).toBe(200);
    await stream.next('SUBSCRIBED');
    r = await call(
      master.url,
      { framework_id: { value: stream.frameworkId }, type: 'REVIVE' },
      {
        streamId: stream.streamId,
      },
    );
    expect(r.status).toBe(401);
    r = await call(
      master.url,
      { framework_id: { value: stream.frameworkId }, type: 'REVIVE' },
      {
        streamId: stream.streamId,
        headers: auth,
      },
    );
    expect(r.status).toBe(202);
    stream.close();
  });
});

describe('other endpoints (capture 13)', () => {
  it('/health, /version, /master/redirect, 404, /metrics/snapshot', async () => {
    master = await startMaster();
    let r = await rawRequest(master.url, { method: 'GET', path: '/health' });
    expect([r.status, r.body, r.headers['content-length']]).toEqual([200, '', '0']);
    r = await rawRequest(master.url, { method: 'GET', path: '/version' });
    expect(JSON.parse(r.body).version).toBe('1.12.0');
    r = await rawRequest(master.url, { method: 'GET', path: '/master/redirect' });
    expect(r.status).toBe(307);
    expect(r.headers.location).toBe(`//localhost:${master.masterInfo.port}`);
    r = await rawRequest(master.url, { method: 'GET', path: '/nope' });
    expect([r.status, r.body]).toEqual([404, '404 Not Found.']);
    r = await rawRequest(master.url, { method: 'GET', path: '/metrics/snapshot' });
    expect(JSON.parse(r.body)['master/elected']).toBe(1);
  });

  it('/metrics/snapshot times the allocation cycles (allocator/mesos/allocation_run_ms)', async () => {
    master = await startMaster();
    const metrics = async () =>
      JSON.parse((await rawRequest(master!.url, { method: 'GET', path: '/metrics/snapshot' })).body);
    // No framework, no cycle.
    expect((await metrics())['allocator/mesos/allocation_runs']).toBe(0);
    await FakeAgent.register(master);
    const s = await session(master.url, frameworkInfo());
    await s.stream.offers();
    const m = await metrics();
    expect(m['allocator/mesos/allocation_runs']).toBeGreaterThanOrEqual(1);
    expect(m['allocator/mesos/allocation_run_ms/count']).toBe(m['allocator/mesos/allocation_runs']);
    expect(m['allocator/mesos/allocation_run_ms']).toBeGreaterThanOrEqual(0);
    expect(m['allocator/mesos/allocation_run_ms/p50']).toBeLessThanOrEqual(
      m['allocator/mesos/allocation_run_ms/max'],
    );
    s.stream.close();
  });

  it('/master/state and /state list frameworks, tasks and agents', async () => {
    master = await startMaster();
    const agent = await FakeAgent.register(master);
    const s = await session(master.url, frameworkInfo({ name: 'state-test' }));
    const [offer] = await s.stream.offers();
    const { commandTask } = await import('./helpers.js');
    await s.launch(offer!.id.value, [commandTask('t1', agent.agentId)]);
    for (const path of ['/master/state', '/state']) {
      const r = await rawRequest(master.url, { method: 'GET', path });
      expect(r.headers['content-type']).toBe('application/json');
      const state = JSON.parse(r.body);
      expect(state.id).toBe(master.masterInfo.id);
      expect(state.slaves[0]).toMatchObject({
        id: agent.agentId,
        hostname: 'localhost',
        resources: { cpus: 2, mem: 2048, disk: 4096, ports: '[31000-32000]' },
        used_resources: { cpus: 0.1, mem: 32 },
      });
      expect(state.frameworks[0]).toMatchObject({
        id: s.frameworkId,
        name: 'state-test',
        active: true,
        resources: { cpus: 0.1, mem: 32 },
        tasks: [{ id: 't1', state: 'TASK_STAGING', slave_id: agent.agentId, framework_id: s.frameworkId }],
      });
    }
    s.stream.close();
  });
});
