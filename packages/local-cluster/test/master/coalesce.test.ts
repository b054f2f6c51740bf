import { createServer, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect, Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { coalesceWrites, RecordIOResponse, sendAccepted } from '../../src/http.js';

let server: Server | undefined;

afterEach(async () => {
  vi.restoreAllMocks();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** A coalescing server whose handler is `handle`; resolves with its port. */
async function serve(handle: (res: ServerResponse) => void): Promise<number> {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handle(res));
  });
  coalesceWrites(server);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Sends raw request bytes; resolves with everything received until the server closes. */
function exchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.end(request);
  });
}

const POST = 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n';

describe('write coalescing', () => {
  it('writes what a connection sent in one event loop iteration with one writev, bytes unchanged', async () => {
    const writev = vi.spyOn(Socket.prototype as unknown as { _writev: () => void }, '_writev');
    const port = await serve((res) => {
      const stream = new RecordIOResponse(res, 'json');
      stream.send(Buffer.from('{"type":"A"}'));
      stream.send(Buffer.from('{"type":"BB"}'));
      stream.end();
    });
    const text = await exchange(port, `${POST}Connection: close\r\n\r\n`);
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    // One RecordIO record per chunk, then the last chunk.
    expect(body).toBe('f\r\n12\n{"type":"A"}\r\n10\r\n13\n{"type":"BB"}\r\n0\r\n\r\n');
    expect(writev).toHaveBeenCalledTimes(1);
  });

  it('answers pipelined calls in one writev, in order', async () => {
    const writev = vi.spyOn(Socket.prototype as unknown as { _writev: () => void }, '_writev');
    const port = await serve((res) => sendAccepted(res));
    const text = await exchange(port, `${POST}\r\n${POST}\r\n${POST}Connection: close\r\n\r\n`);
    expect(text.match(/HTTP\/1\.1 202 Accepted\r\nDate: [^\r]+\r\nContent-Length: 0\r\n/g)).toHaveLength(3);
    // Node answers a pipelined request once the one before it finished, so the three answers
    // may take up to three iterations, never one write each plus the flushes.
    expect(writev.mock.calls.length).toBeLessThanOrEqual(3);
  });

  it('sends what was written before the connection is destroyed', async () => {
    const port = await serve((res) => {
      const stream = new RecordIOResponse(res, 'json');
      stream.send(Buffer.from('{"type":"A"}'));
      // Node holds a chunk in the corked socket until the next tick; after that it is ours.
      process.nextTick(() => res.socket!.destroy());
    });
    const text = await exchange(port, `${POST}\r\n`);
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text.endsWith('f\r\n12\n{"type":"A"}\r\n')).toBe(true);
  });

  it('frames a record larger than 16 KiB in pieces, the same bytes on the wire', async () => {
    const record = Buffer.alloc(40_000, 'x');
    const port = await serve((res) => {
      const stream = new RecordIOResponse(res, 'json');
      stream.send(record);
      stream.end();
    });
    const text = await exchange(port, `${POST}Connection: close\r\n\r\n`);
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    const size = (6 + record.length).toString(16);
    expect(body).toBe(`${size}\r\n40000\n${record.toString('latin1')}\r\n0\r\n\r\n`);
  });

  it('sends an event caused by a call before the call is answered, across connections', async () => {
    const order: number[] = [];
    const writev = Socket.prototype as unknown as { _writev: (...args: unknown[]) => unknown };
    const original = writev._writev;
    vi.spyOn(writev, '_writev').mockImplementation(function (this: Socket, ...args: unknown[]) {
      order.push(this.remotePort!);
      return original.apply(this, args);
    });
    let stream: RecordIOResponse | undefined;
    let opened: () => void = () => {};
    const streamOpen = new Promise<void>((resolve) => {
      opened = resolve;
    });
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/stream') {
          stream = new RecordIOResponse(res, 'json');
          opened();
          return;
        }
        // The call: its event first, then its answer, as the master handles an ACCEPT.
        stream!.send(Buffer.from('{"type":"LAUNCH"}'));
        sendAccepted(res);
      });
    });
    coalesceWrites(server);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const subscriber = connect(port, '127.0.0.1');
    let streamed = '';
    const launched = new Promise<void>((resolve) => {
      subscriber.on('data', (d: Buffer) => {
        streamed += d.toString('latin1');
        if (streamed.includes('LAUNCH')) resolve();
      });
    });
    subscriber.write('POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
    await streamOpen;
    const caller = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => caller.once('connect', () => resolve()));
    order.length = 0;
    const ports = [subscriber.localPort, caller.localPort];
    // Keep-alive, as schedulers' connections are (closing would flush the answer at once).
    const answered = new Promise<void>((resolve) => {
      let text = '';
      caller.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text.includes('202 Accepted')) resolve();
      });
    });
    caller.write('POST /call HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
    await Promise.all([launched, answered]);
    subscriber.destroy();
    caller.destroy();
    expect(order).toEqual(ports);
  });

  it('queues a stream behind a pipelined response that is not finished', async () => {
    let first: ServerResponse | undefined;
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/first') {
          first = res;
          return;
        }
        // This response does not own the socket yet: its record waits behind the first answer.
        const stream = new RecordIOResponse(res, 'json');
        stream.send(Buffer.from('{"type":"A"}'));
        stream.end();
        sendAccepted(first!);
      });
    });
    coalesceWrites(server);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const text = await exchange(
      port,
      'POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n' +
        'POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
    );
    expect(text).toMatch(/^HTTP\/1\.1 202 Accepted\r\n[\s\S]*\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(text.endsWith('f\r\n12\n{"type":"A"}\r\n0\r\n\r\n')).toBe(true);
  });
});
