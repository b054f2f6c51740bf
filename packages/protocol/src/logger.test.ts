import { describe, expect, it } from 'vitest';
import { childLogger, createLogger, fromPino } from './logger.js';

describe('createLogger', () => {
  it('writes JSON lines at the level and above, with base and meta fields', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', base: { pid: 1 }, write: (l) => lines.push(l) });
    log.debug('hidden');
    log.info('shown', { n: 2, err: new Error('boom'), bytes: new Uint8Array(3) });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'info',
      message: 'shown',
      pid: 1,
      n: 2,
      err: { name: 'Error', message: 'boom' },
      bytes: '<3 bytes>',
    });
  });

  it('writes one pretty line per entry, newlines escaped', () => {
    const lines: string[] = [];
    createLogger({ level: 'trace', format: 'pretty', write: (l) => lines.push(l) }).warn('two\nlines', {
      k: 'a b',
    });
    expect(lines[0]).toMatch(/^\S+ WARN {2}two\\nlines k="a b"\n$/);
  });
});

describe('childLogger', () => {
  it('adds context, lets entry meta win, and survives a throwing logger', () => {
    const seen: unknown[] = [];
    const base = createLogger({ level: 'trace', write: (l) => seen.push(JSON.parse(l)) });
    childLogger(base, { taskId: 't1', a: 1 }).info('m', { a: 2 });
    expect(seen[0]).toMatchObject({ taskId: 't1', a: 2 });
    const throwing = {
      ...base,
      info: () => {
        throw new Error('x');
      },
    };
    expect(() => childLogger(throwing, {}).info('m')).not.toThrow();
  });
});

describe('fromPino', () => {
  it('calls level(obj, msg) as pino expects', () => {
    const calls: unknown[][] = [];
    const pinoish = Object.fromEntries(
      ['trace', 'debug', 'info', 'warn', 'error'].map((l) => [
        l,
        (...args: unknown[]) => calls.push([l, ...args]),
      ]),
    ) as unknown as Parameters<typeof fromPino>[0];
    const log = fromPino(pinoish);
    log.info('started', { port: 1 });
    log.error('failed');
    expect(calls).toEqual([
      ['info', { port: 1 }, 'started'],
      ['error', {}, 'failed'],
    ]);
  });
});
