/** The pipelined call connection against node:http servers (which serve pipelined requests in order). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CallPipeline } from '../src/client/call-pipeline.js';

const servers: (http.Server | net.Server)[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    (s as http.Server).closeAllConnections?.();
    await new Promise((r) => s.close(r));
  }
});

async function listen<S extends http.Server | net.Server>(server: S): Promise<URL> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/scheduler`);
}

const pipelineFor = (url: URL, timeoutMs = 5000) =>
  new CallPipeline(url, { headers: { 'Content-Type': 'application/json' }, timeoutMs });

describe('CallPipeline', () => {
  it('writes calls made in one tick together on one connection and answers them in order', async () => {
    const sockets = new Set<unknown>();
    const bodies: string[] = [];
    const url = await listen(
      http.createServer(async (req, res) => {
        sockets.add(req.socket);
        let body = '';
        for await (const c of req) body += c;
        bodies.push(`${req.headers['mesos-stream-id']}:${body}`);
        if (body === 'bad') {
          res.writeHead(400, { 'Content-Type': 'text/plain' }).end('Failed to validate: bad');
        } else if (body === 'chunked') {
          res.writeHead(200);
          res.write('part1-');
          res.end('part2');
        } else {
          res.writeHead(202).end();
        }
      }),
    );
    const p = pipelineFor(url);
    const results = await Promise.all(
      ['a', 'bad', 'chunked', 'b'].map((b) => p.post(Buffer.from(b), { 'Mesos-Stream-Id': 's1' })),
    );
    expect(results.map((r) => [r.status, r.body.toString()])).toEqual([
      [202, ''],
      [400, 'Failed to validate: bad'],
      [200, 'part1-part2'],
      [202, ''],
    ]);
    expect(bodies).toEqual(['s1:a', 's1:bad', 's1:chunked', 's1:b']);
    expect(sockets.size).toBe(1);
    p.close();
  });

  it('writes large bodies beside small ones, intact and in order', async () => {
    const got: string[] = [];
    const url = await listen(
      http.createServer(async (req, res) => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const body = Buffer.concat(chunks);
        got.push(`${body.length}:${body[0]}:${body.at(-1)}`);
        res.writeHead(202).end();
      }),
    );
    const p = pipelineFor(url);
    const big = (n: number, fill: number) => new Uint8Array(n).fill(fill);
    const bodies = [big(10, 1), big(200_000, 2), big(5, 3), big(70_000, 4), big(16 * 1024 + 1, 5)];
    const results = await Promise.all(bodies.map((b) => p.post(b)));
    expect(results.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
    expect(got).toEqual(['10:1:1', '200000:2:2', '5:3:3', '70000:4:4', '16385:5:5']);
    p.close();
  });

  it('returns a redirect with its Location', async () => {
    const url = await listen(
      http.createServer((req, res) => {
        req.resume();
        res.writeHead(307, { Location: '//10.0.0.2:5050/api/v1/scheduler' }).end();
      }),
    );
    const p = pipelineFor(url);
    await expect(p.post(Buffer.from('x'))).resolves.toMatchObject({
      status: 307,
      location: '//10.0.0.2:5050/api/v1/scheduler',
    });
    p.close();
  });

  it('resends once a call written to a kept-alive connection the server closed unread', async () => {
    let connections = 0;
    const url = await listen(
      net.createServer((socket) => {
        connections++;
        const mine = connections;
        socket.on('data', () => {
          if (mine === 1) {
            // First connection: answer the first request, then close without reading the next.
            socket.write('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n');
            socket.removeAllListeners('data');
            socket.once('data', () => socket.destroy());
          } else {
            socket.write('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n');
          }
        });
      }),
    );
    const p = pipelineFor(url);
    await expect(p.post(Buffer.from('1'))).resolves.toMatchObject({ status: 202 });
    await expect(p.post(Buffer.from('2'))).resolves.toMatchObject({ status: 202 });
    expect(connections).toBe(2);
    p.close();
  });

  it('fails calls on a fresh connection that breaks, and every call past a timeout', async () => {
    const url = await listen(net.createServer((socket) => socket.on('data', () => socket.destroy())));
    const p = pipelineFor(url);
    await expect(p.post(Buffer.from('x'))).rejects.toThrow(/closed the call connection|ECONNRESET/);
    p.close();

    const silent = await listen(net.createServer((socket) => socket.resume()));
    const q = pipelineFor(silent, 100);
    const both = [q.post(Buffer.from('1')), q.post(Buffer.from('2'))];
    await expect(both[0]).rejects.toThrow(/no response from .* within 100 ms/);
    await expect(both[1]).rejects.toThrow(/no response/);
    q.close();
  });

  it('times a call from when it was made: answered calls do not make a later one fail early', async () => {
    const heads: string[] = [];
    let answer = true;
    const url = await listen(
      net.createServer((socket) =>
        socket.on('data', (chunk: Buffer) => {
          heads.push(chunk.toString('latin1').split('\r\n\r\n')[0]!);
          if (answer) socket.write('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n');
        }),
      ),
    );
    const p = pipelineFor(url, 300);
    const first = { 'Mesos-Stream-Id': 's1' };
    await expect(p.post(Buffer.from('1'), first)).resolves.toMatchObject({ status: 202 });
    // The timer armed for the first call is still running: the second call's own 300 ms count.
    answer = false;
    const t0 = Date.now();
    await expect(p.post(Buffer.from('2'), { 'Mesos-Stream-Id': 's2' })).rejects.toThrow(/no response/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(heads.map((h) => /mesos-stream-id: (\w+)/i.exec(h)?.[1])).toEqual(['s1', 's2']);
    p.close();
  });

  it('drops the connection on a malformed response instead of crashing', async () => {
    const url = await listen(
      net.createServer((socket) => socket.on('data', () => socket.write('garbage\r\n\r\n'))),
    );
    const p = pipelineFor(url);
    await expect(p.post(Buffer.from('x'))).rejects.toThrow(/malformed response/);
    p.close();
    await expect(p.post(Buffer.from('y'))).rejects.toThrow(/closed/);
  });
});
