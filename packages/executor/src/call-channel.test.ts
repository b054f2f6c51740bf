import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CallChannel } from './call-channel.js';

const servers: (http.Server | net.Server)[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    if (s instanceof http.Server) s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function listen<S extends http.Server | net.Server>(server: S): Promise<URL> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/executor`);
}

describe('CallChannel', () => {
  it('pipelines calls on one connection and resolves each with its status, in order', async () => {
    const seen: { body: string; auth: string | undefined; socket: unknown }[] = [];
    const url = await listen(
      http.createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => {
          body += c.toString();
        });
        req.on('end', () => {
          seen.push({ body, auth: req.headers.authorization, socket: req.socket });
          if (body === 'bad') res.writeHead(400, { 'Content-Type': 'text/plain' }).end('Failed to validate');
          else if (body === 'chunked')
            res.writeHead(500).end(); // still a plain answer
          else res.writeHead(202, { 'Content-Length': '0' }).end();
        });
      }),
    );
    const channel = new CallChannel(url, { 'Content-Type': 'application/json', Authorization: 'Bearer t' });
    const statuses = await Promise.all(
      ['a', 'bad', 'b', 'chunked', 'c'].map((b) => channel.post(Buffer.from(b))),
    );
    expect(statuses).toEqual([202, 400, 202, 500, 202]);
    expect(seen.map((s) => s.body)).toEqual(['a', 'bad', 'b', 'chunked', 'c']);
    expect(new Set(seen.map((s) => s.socket)).size).toBe(1);
    expect(seen.every((s) => s.auth === 'Bearer t')).toBe(true);
    // Later calls reuse the connection.
    expect(await channel.post(Buffer.from('d'))).toBe(202);
    expect(new Set(seen.map((s) => s.socket)).size).toBe(1);
    channel.close();
  });

  it('skips chunked bodies and responses split at any byte', async () => {
    const reply =
      'HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n' +
      'HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' +
      'HTTP/1.1 202 Accepted\r\nContent-Length: 3\r\n\r\nabc';
    const url = await listen(
      net.createServer((socket) => {
        let requests = 0;
        socket.on('data', (c: Buffer) => {
          requests += c.toString().split('POST ').length - 1;
          if (requests < 3) return;
          const bytes = Buffer.from(reply);
          for (let i = 0; i < bytes.length; i++) socket.write(bytes.subarray(i, i + 1));
        });
      }),
    );
    const channel = new CallChannel(url, {});
    expect(await Promise.all([1, 2, 3].map(() => channel.post(Buffer.from('x'))))).toEqual([202, 400, 202]);
    channel.close();
  });

  it('resends a call once on a fresh connection when the connection breaks before its answer', async () => {
    let connections = 0;
    const url = await listen(
      net.createServer((socket) => {
        connections++;
        const mine = connections;
        socket.on('data', () => {
          if (mine === 1) {
            socket.destroy(); // e.g. the server closing an idle keep-alive connection
            return;
          }
          socket.write('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n');
        });
      }),
    );
    const channel = new CallChannel(url, {});
    expect(await channel.post(Buffer.from('x'))).toBe(202);
    expect(connections).toBe(2);
    channel.close();
    await expect(channel.post(Buffer.from('z'))).rejects.toThrow('closed');
  });

  it('with readBatchMs, reads answers in batches and still settles every call in order', async () => {
    const url = await listen(
      http.createServer((req, res) => {
        req.resume();
        req.on('end', () => res.writeHead(202, { 'Content-Length': '0' }).end());
      }),
    );
    const channel = new CallChannel(url, {}, 20);
    const first = await Promise.all(Array.from({ length: 50 }, () => channel.post(Buffer.from('x'))));
    expect(first).toEqual(Array(50).fill(202));
    // Later calls on the same (possibly paused) connection are answered too.
    expect(await channel.post(Buffer.from('y'))).toBe(202);
    channel.close();
  });

  it('with readBatchMs, resends calls when the connection breaks while reading is paused', async () => {
    let connections = 0;
    const url = await listen(
      net.createServer((socket) => {
        connections++;
        const mine = connections;
        let answered = 0;
        socket.on('data', (c: Buffer) => {
          const requests = c.toString().split('POST ').length - 1;
          for (let i = 0; i < requests; i++) {
            socket.write('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n');
            answered++;
            // The first connection answers one call, then breaks with the others unanswered.
            if (mine === 1 && answered === 1) {
              setImmediate(() => socket.destroy());
              return;
            }
          }
        });
      }),
    );
    const channel = new CallChannel(url, {}, 50);
    const statuses = await Promise.all([1, 2, 3].map(() => channel.post(Buffer.from('x'))));
    expect(statuses).toEqual([202, 202, 202]);
    expect(connections).toBe(2);
    channel.close();
  });

  it('rejects a call that fails twice', async () => {
    const url = await listen(
      net.createServer((socket) => {
        socket.on('data', () => socket.destroy());
      }),
    );
    const channel = new CallChannel(url, {});
    await expect(channel.post(Buffer.from('x'))).rejects.toThrow();
    channel.close();
  });
});
