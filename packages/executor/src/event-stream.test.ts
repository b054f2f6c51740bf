import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamRequest } from './event-stream.js';

const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A server that reads one request, then writes `pieces` one write each (or byte by byte). */
async function serve(pieces: (string | Buffer)[], byteByByte = false): Promise<URL> {
  const server = net.createServer((socket) => {
    socket.once('data', () => {
      const all = Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));
      if (byteByByte) {
        let i = 0;
        const next = (): void => {
          if (i >= all.length) return;
          socket.write(all.subarray(i, i + 1), next);
          i++;
        };
        next();
      } else for (const p of pieces) socket.write(p);
    });
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/executor`);
}

function read(
  url: URL,
): Promise<{ status: number; body: string; error: Error | undefined; headers: Map<string, string> }> {
  return new Promise((resolve) => {
    let status = 0;
    let headers = new Map<string, string>();
    const body: Buffer[] = [];
    new StreamRequest(url, `POST /api/v1/executor HTTP/1.1\r\nHost: x\r\n`, Buffer.from('{}'), {
      onHead: (s, h) => {
        status = s;
        headers = new Map(h);
      },
      onBody: (b) => body.push(b),
      onEnd: (error) => resolve({ status, body: Buffer.concat(body).toString(), error, headers }),
    });
  });
}

const CHUNKED =
  'HTTP/1.1 200 OK\r\nDate: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n' +
  '17\r\n20\n{"type":"HEARTBEAT"}\r\n3\r\nabc\r\n0\r\n\r\n';

describe('StreamRequest', () => {
  it('de-chunks a chunked body and ends cleanly at the terminating chunk', async () => {
    const r = await read(await serve([CHUNKED]));
    expect(r).toMatchObject({ status: 200, body: '20\n{"type":"HEARTBEAT"}abc', error: undefined });
    expect(r.headers.get('content-type')).toBe('application/json');
  });

  it('handles a response split at every byte', async () => {
    const r = await read(await serve([CHUNKED], true));
    expect(r).toMatchObject({ status: 200, body: '20\n{"type":"HEARTBEAT"}abc', error: undefined });
  });

  it('reads a Content-Length body (an error answer)', async () => {
    const r = await read(
      await serve(['HTTP/1.1 400 Bad Request\r\nContent-Length: 28\r\n\r\n', "Expecting 'subscribe' to be!"]),
    );
    expect(r).toMatchObject({ status: 400, body: "Expecting 'subscribe' to be!", error: undefined });
  });

  it('reports a connection closed mid-stream as an error', async () => {
    const server = net.createServer((socket) => {
      socket.once('data', () =>
        socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n'),
      );
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const r = await read(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`));
    expect(r.body).toBe('abc');
    expect(r.error?.message).toBe('the agent closed the connection');
  });

  it('reports a malformed chunk size or chunk end as an error', async () => {
    const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    expect((await read(await serve([`${head}zz\r\nabc\r\n`]))).error?.message).toBe('malformed chunk size');
    expect((await read(await serve([`${head}3\r\nabcXY`]))).error?.message).toBe('malformed chunk end');
  });

  it('reports a malformed response', async () => {
    const r = await read(await serve(['SSH-2.0-OpenSSH\r\n\r\n']));
    expect(r.error?.message).toContain('malformed response');
  });
});
