/**
 * FrameworkIdStore: the two stores, and how the client loads, saves and clears the id.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type FrameworkIdStore,
  fileFrameworkIdStore,
  MesosSchedulerClient,
  type MesosSchedulerClientOptions,
  memoryFrameworkIdStore,
  SubscriptionLostError,
} from '../src/index.js';
import { FakeMaster, within } from './fake-master.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mesoskit-store-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

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
  master: FakeMaster,
  options: Partial<MesosSchedulerClientOptions> = {},
): Promise<MesosSchedulerClient> {
  const client = await MesosSchedulerClient.connect({
    master: master.url,
    framework: { name: 'store-test', failover_timeout: 3600 },
    reconnect: { initialMs: 10, maxMs: 50, jitter: 0 },
    ...options,
  });
  clients.push(client);
  return client;
}

/** A store that records what the client did with it. */
function recordingStore(initial?: string): FrameworkIdStore & { ops: string[] } {
  const inner = memoryFrameworkIdStore(initial);
  const ops: string[] = [];
  return {
    ops,
    load: async () => {
      ops.push('load');
      return inner.load();
    },
    save: async (id) => {
      ops.push(`save ${id}`);
      await inner.save(id);
    },
    clear: async () => {
      ops.push('clear');
      await inner.clear();
    },
  };
}

describe('memoryFrameworkIdStore', () => {
  it('loads what was saved, starts from the initial id, and forgets on clear', async () => {
    const empty = memoryFrameworkIdStore();
    expect(await empty.load()).toBeUndefined();
    await empty.save('fw-1');
    expect(await empty.load()).toBe('fw-1');
    await empty.clear();
    expect(await empty.load()).toBeUndefined();
    expect(await memoryFrameworkIdStore('fw-0').load()).toBe('fw-0');
  });
});

describe('fileFrameworkIdStore', () => {
  it('loads undefined without a file, creates the directory on save, overwrites, clears', async () => {
    const path = join(dir, 'a', 'b', 'framework-id');
    const store = fileFrameworkIdStore(path);
    expect(await store.load()).toBeUndefined();
    await store.save('fw-1');
    expect(await readFile(path, 'utf8')).toBe('fw-1\n');
    expect(await store.load()).toBe('fw-1');
    await store.save('fw-2');
    expect(await fileFrameworkIdStore(path).load()).toBe('fw-2');
    // the temporary files were renamed away: only the id file is left
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['framework-id']);
    await store.clear();
    expect(await store.load()).toBeUndefined();
    await store.clear(); // clearing twice is fine
  });

  it('treats an empty or whitespace-only file as no id and trims the id', async () => {
    const path = join(dir, 'blank');
    await writeFile(path, '  \n');
    expect(await fileFrameworkIdStore(path).load()).toBeUndefined();
    await writeFile(path, ' fw-9 \n');
    expect(await fileFrameworkIdStore(path).load()).toBe('fw-9');
  });

  it('saves atomically: concurrent saves leave one whole id, never a mix', async () => {
    const path = join(dir, 'race', 'framework-id');
    const store = fileFrameworkIdStore(path);
    const ids = Array.from({ length: 20 }, (_, i) => `framework-${i}-${'x'.repeat(200)}`);
    await Promise.all(ids.map((id) => store.save(id)));
    expect(ids).toContain(await store.load());
    expect(await readdir(join(dir, 'race'))).toEqual(['framework-id']);
  });

  it('rejects save when the directory cannot be created', async () => {
    const file = join(dir, 'plain-file');
    await writeFile(file, 'x');
    await expect(fileFrameworkIdStore(join(file, 'framework-id')).save('fw')).rejects.toMatchObject({
      code: expect.stringMatching(/^(ENOTDIR|EEXIST)$/),
    });
  });
});

describe('MesosSchedulerClient with a FrameworkIdStore', () => {
  it('saves the id of a new framework once SUBSCRIBED arrived, and not again on a resubscribe', async () => {
    const m = await fakeMaster();
    const store = recordingStore();
    const client = await connect(m, { frameworkIdStore: store });
    // connect() resolves only once the id is stored
    expect(store.ops).toEqual(['load', `save ${m.frameworkId}`]);
    expect(m.subscriptions[0]!.call.framework_id).toBeUndefined();
    const resubscribed = new Promise<void>((resolve) =>
      client.on('subscribed', (info) => {
        if (info.resubscribed) resolve();
      }),
    );
    m.last.destroy();
    await within('a resubscription', 3000, resubscribed);
    expect(store.ops).toEqual(['load', `save ${m.frameworkId}`]);
  });

  it('holds events that come with SUBSCRIBED while the id is saved: callbacks registered after connect() get them', async () => {
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
    const client = await connect(m, { frameworkIdStore: fileFrameworkIdStore(join(dir, 'gate', 'id')) });
    const offered = new Promise<string>((resolve) => client.on('offers', (o) => resolve(o[0]!.id.value)));
    expect(await within('the offer sent with SUBSCRIBED', 2000, offered)).toBe('o1');
  });

  it('fails over to the stored id: SUBSCRIBE carries it in framework_id and framework_info.id', async () => {
    const m = await fakeMaster();
    const store = recordingStore('stored-fw-0001');
    const client = await connect(m, { frameworkIdStore: store });
    const sub = m.subscriptions[0]!.call;
    expect(sub.framework_id).toEqual({ value: 'stored-fw-0001' });
    expect(sub.subscribe?.framework_info.id).toEqual({ value: 'stored-fw-0001' });
    expect(client.frameworkId).toBe('stored-fw-0001');
    // the id did not change: nothing to save
    expect(store.ops).toEqual(['load']);
  });

  it('prefers an explicit framework.id over the stored one', async () => {
    const m = await fakeMaster();
    const store = recordingStore('stored-fw');
    await connect(m, {
      frameworkIdStore: store,
      framework: { name: 'x', id: { value: 'explicit-fw' } },
    });
    expect(m.subscriptions[0]!.call.framework_id).toEqual({ value: 'explicit-fw' });
    expect(store.ops).toEqual(['load', 'save explicit-fw']);
  });

  it('clears the store on ERROR "Framework has been removed" and connect() rejects', async () => {
    const m = await fakeMaster();
    m.refuseWith = 'Framework has been removed';
    const store = recordingStore('removed-fw');
    const err = await connect(m, { frameworkIdStore: store }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SubscriptionLostError);
    expect(store.ops).toEqual(['load', 'clear']);
    expect(await store.load()).toBeUndefined();
    // the next connect registers a new framework
    m.refuseWith = undefined;
    const client = await connect(m, { frameworkIdStore: store });
    expect(m.last.call.framework_id).toBeUndefined();
    expect(client.frameworkId).toBe(m.frameworkId);
  });

  it('clears the store when the framework is removed while connected, not on "Framework failed over"', async () => {
    const m = await fakeMaster();
    const store = recordingStore();
    const failedOver = await connect(m, { frameworkIdStore: store });
    m.last.send({ type: 'ERROR', error: { message: 'Framework failed over' } });
    m.last.end();
    await within('closed() after failed over', 2000, failedOver.closed());
    expect(await store.load()).toBe(m.frameworkId);

    const removed = await connect(m, { frameworkIdStore: store });
    m.last.send({ type: 'ERROR', error: { message: 'Framework has been removed' } });
    m.last.end();
    await within('closed() after removal', 2000, removed.closed());
    expect(await store.load()).toBeUndefined();
  });

  it('clears the store after a successful teardown(), keeps it when TEARDOWN is refused', async () => {
    const m = await fakeMaster();
    const store = recordingStore();
    const client = await connect(m, { frameworkIdStore: store });
    m.respond = (r) => (r.call.type === 'TEARDOWN' ? { status: 503, body: 'busy' } : 'default');
    await expect(client.teardown()).rejects.toMatchObject({ status: 503 });
    expect(await store.load()).toBe(m.frameworkId);
    m.respond = () => 'default';
    await client.teardown();
    expect(store.ops.at(-1)).toBe('clear');
    expect(await store.load()).toBeUndefined();
  });

  it('rejects connect() when the first save fails (an unsaved id cannot be failed over to)', async () => {
    const m = await fakeMaster();
    const store: FrameworkIdStore = {
      load: async () => undefined,
      save: async () => {
        throw new Error('disk full');
      },
      clear: async () => {},
    };
    await expect(connect(m, { frameworkIdStore: store })).rejects.toThrow('disk full');
  });

  it('rejects a store without load/save/clear', async () => {
    await expect(
      connect(await fakeMaster(), { frameworkIdStore: { load: async () => undefined } as FrameworkIdStore }),
    ).rejects.toMatchObject({
      name: 'InvalidOptionsError',
      message: expect.stringMatching(/frameworkIdStore/),
    });
  });
});
