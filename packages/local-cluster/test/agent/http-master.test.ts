/**
 * The agent's side of the HTTP agent link against a fake master (node:http): the agent's calls
 * reach the master in the order it made them, one POST at a time, batched while one is out.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpMasterLink } from '../../src/agent/http-master.js';
import type { AgentToMaster } from '../../src/link-http.js';
import { fromWireJson } from '../../src/wire.js';

let server: http.Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** A master that holds each POST's answer until `release()`; records bodies as they arrive. */
async function fakeMaster() {
  const bodies: AgentToMaster[][] = [];
  const held: (() => void)[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const arrived: (() => void)[] = [];
  server = http.createServer(async (req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let text = '';
    for await (const chunk of req) text += chunk;
    const parsed = fromWireJson<AgentToMaster | AgentToMaster[]>(text);
    bodies.push(Array.isArray(parsed) ? parsed : [parsed]);
    for (const w of arrived.splice(0)) w();
    held.push(() => {
      inFlight--;
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  /** Waits until `n` POSTs have arrived. */
  const posts = (n: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${n} POSTs did not arrive within 5 s`)), 5000);
      const check = (): void => {
        if (bodies.length >= n) {
          clearTimeout(timer);
          resolve();
        } else arrived.push(check);
      };
      check();
    });
  return {
    url,
    bodies,
    posts,
    release: () => held.shift()?.(),
    maxInFlight: () => maxInFlight,
  };
}

const pong = (n: number): AgentToMaster => ({ type: 'PONG', agentId: `a-${n}` });

describe('HttpMasterLink', () => {
  it('sends calls in order, one POST at a time, batching those made while one is out', async () => {
    const master = await fakeMaster();
    const link = new HttpMasterLink(master.url);
    link.pong('a-0');
    await master.posts(1);
    // The first POST is not answered yet: these wait, and go together, in order.
    for (let n = 1; n <= 5; n++) link.pong(`a-${n}`);
    link.exitedExecutor('a-6', 'f', 'e', 0);
    master.release();
    await master.posts(2);
    link.pong('a-7');
    master.release();
    await master.posts(3);
    master.release();
    expect(master.bodies).toEqual([
      [pong(0)],
      [1, 2, 3, 4, 5]
        .map(pong)
        .concat([{ type: 'EXITED_EXECUTOR', agentId: 'a-6', frameworkId: 'f', executorId: 'e', status: 0 }]),
      [pong(7)],
    ]);
    expect(master.maxInFlight()).toBe(1);
    link.close();
  });
});
