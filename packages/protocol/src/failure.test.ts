import { describe, expect, it } from 'vitest';
import { EnvelopeError } from './errors.js';
import {
  DEFAULT_MAX_CAUSE_DEPTH,
  FAILURE_SUMMARY_LENGTH,
  failureSummary,
  MAX_CAUSE_DEPTH,
  MAX_FAILURE_TEXT_LENGTH,
  parseWireFailure,
  toWireFailure,
  type WireFailure,
} from './failure.js';

class NonRetryableError extends Error {
  override readonly name = 'NonRetryableError';
  readonly code: string;
  readonly retryable = false;
  readonly details: unknown;
  constructor(message: string, options: { code: string; details?: unknown; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.code = options.code;
    this.details = options.details;
  }
}

function chain(length: number): Error {
  let err = new Error('e0');
  for (let i = 1; i < length; i++) err = new Error(`e${i}`, { cause: err });
  return err;
}

function causeDepth(f: WireFailure): number {
  let depth = 0;
  for (let c = f.cause; c !== undefined; c = c.cause) depth++;
  return depth;
}

describe('toWireFailure', () => {
  it('keeps name and message of an Error, retryable by default, no stack unless asked', () => {
    expect(toWireFailure(new Error('boom'))).toEqual({ name: 'Error', message: 'boom', retryable: true });
    expect(toWireFailure(new TypeError('bad type'))).toEqual({
      name: 'TypeError',
      message: 'bad type',
      retryable: true,
    });
    expect(toWireFailure(new RangeError('r')).stack).toBeUndefined();
  });

  it('includes stacks (of the causes too) when asked', () => {
    const err = new Error('outer', { cause: new Error('inner') });
    const f = toWireFailure(err, { includeStack: true });
    expect(f.stack).toBe(err.stack);
    expect(f.stack).toMatch(/^Error: outer\n\s+at /);
    expect(f.cause?.stack).toMatch(/^Error: inner/);
  });

  it('keeps code, retryable and details of an Error subclass', () => {
    const f = toWireFailure(
      new NonRetryableError('width must be positive', {
        code: 'BAD_INPUT',
        details: { width: -1, seen: new Set([1n]) },
      }),
    );
    expect(f).toEqual({
      name: 'NonRetryableError',
      code: 'BAD_INPUT',
      message: 'width must be positive',
      retryable: false,
      details: { width: -1, seen: new Set([1n]) },
    });
  });

  it('keeps a string code of a system error and ignores codes and retryable flags of other types', () => {
    const sys = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104 });
    expect(toWireFailure(sys)).toEqual({
      name: 'Error',
      code: 'ECONNRESET',
      message: 'read ECONNRESET',
      retryable: true,
    });
    const odd = Object.assign(new Error('x'), { code: 404, retryable: 'no' });
    expect(toWireFailure(odd)).toEqual({ name: 'Error', message: 'x', retryable: true });
  });

  it('converts a cause chain recursively, with string and object causes', () => {
    const err = new Error('top', {
      cause: new NonRetryableError('middle', { code: 'MID', cause: 'root cause text' }),
    });
    expect(toWireFailure(err)).toEqual({
      name: 'Error',
      message: 'top',
      retryable: true,
      cause: {
        name: 'NonRetryableError',
        code: 'MID',
        message: 'middle',
        retryable: false,
        cause: { name: 'Error', message: 'root cause text', retryable: true },
      },
    });
  });

  it(`keeps ${DEFAULT_MAX_CAUSE_DEPTH} causes by default, maxCauseDepth when given, clamped to ${MAX_CAUSE_DEPTH}`, () => {
    expect(causeDepth(toWireFailure(chain(20)))).toBe(DEFAULT_MAX_CAUSE_DEPTH);
    expect(causeDepth(toWireFailure(chain(20), { maxCauseDepth: 2 }))).toBe(2);
    expect(causeDepth(toWireFailure(chain(20), { maxCauseDepth: 0 }))).toBe(0);
    expect(causeDepth(toWireFailure(chain(100), { maxCauseDepth: 1000 }))).toBe(MAX_CAUSE_DEPTH);
    expect(causeDepth(toWireFailure(chain(3), { maxCauseDepth: -5 }))).toBe(0);
    expect(causeDepth(toWireFailure(chain(3), { maxCauseDepth: Number.NaN }))).toBe(2);
    const top = toWireFailure(chain(20), { maxCauseDepth: 2 });
    expect([top.message, top.cause?.message, top.cause?.cause?.message]).toEqual(['e19', 'e18', 'e17']);
  });

  it('ends the chain at a cycle', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    const f = toWireFailure(a);
    expect(f.message).toBe('a');
    expect(f.cause?.message).toBe('b');
    expect(f.cause?.cause).toBeUndefined();
    const self = new Error('self');
    (self as { cause?: unknown }).cause = self;
    expect(toWireFailure(self)).toEqual({ name: 'Error', message: 'self', retryable: true });
  });

  it('normalises strings and non-error values', () => {
    expect(toWireFailure('plain text')).toEqual({ name: 'Error', message: 'plain text', retryable: true });
    expect(toWireFailure(undefined)).toEqual({
      name: 'Error',
      message: 'Non-error value thrown: undefined',
      retryable: true,
    });
    expect(toWireFailure(null).message).toBe('Non-error value thrown: null');
    expect(toWireFailure(42).message).toBe('Non-error value thrown: 42');
    expect(toWireFailure(false).message).toBe('Non-error value thrown: false');
    expect(toWireFailure(12n).message).toBe('Non-error value thrown: 12n');
    expect(toWireFailure(Symbol('s')).message).toBe('Non-error value thrown: Symbol(s)');
    expect(toWireFailure(function handler() {}).message).toBe('Non-error value thrown: [function handler]');
  });

  it('normalises plain objects, error-like or not', () => {
    expect(
      toWireFailure({ name: 'HttpError', message: 'status 503', code: 'HTTP_503', retryable: true }),
    ).toEqual({ name: 'HttpError', code: 'HTTP_503', message: 'status 503', retryable: true });
    expect(toWireFailure({ code: 'E_X', retryable: false })).toEqual({
      name: 'Error',
      code: 'E_X',
      message: 'Non-error value thrown: {"code":"E_X","retryable":false}',
      retryable: false,
    });
    expect(toWireFailure({ big: 1n }).message).toBe('Non-error value thrown: {"big":"1n"}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(toWireFailure(cyclic).message).toBe('Non-error value thrown: [object Object]');
    expect(toWireFailure(Object.create(null)).message).toBe('Non-error value thrown: {}');
  });

  it('drops details that MessagePack cannot carry and keeps those it can', () => {
    const withFn = Object.assign(new Error('x'), { details: { callback: () => 1 } });
    expect(toWireFailure(withFn)).toEqual({ name: 'Error', message: 'x', retryable: true });
    const withNull = Object.assign(new Error('x'), { details: null });
    expect(toWireFailure(withNull).details).toBeNull();
    const withMap = Object.assign(new Error('x'), { details: new Map([[1, new Date(0)]]) });
    expect(toWireFailure(withMap).details).toEqual(new Map([[1, new Date(0)]]));
  });

  it('never throws, even for hostile values', () => {
    const throwing = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
        getPrototypeOf() {
          throw new Error('trap');
        },
        ownKeys() {
          throw new Error('trap');
        },
      },
    );
    expect(toWireFailure(throwing)).toEqual({
      name: 'Error',
      message: expect.any(String),
      retryable: true,
    });
    const getter = new Error('x');
    Object.defineProperty(getter, 'message', {
      get() {
        throw new Error('no');
      },
    });
    expect(toWireFailure(getter)).toMatchObject({ name: 'Error', retryable: true });
    const badToString = {
      toString() {
        throw new Error('no');
      },
      toJSON() {
        throw new Error('no');
      },
    };
    expect(toWireFailure(badToString).message).toBe('Non-error value thrown: [object Object]');
  });

  it(`cuts messages and stacks longer than ${MAX_FAILURE_TEXT_LENGTH} characters`, () => {
    const f = toWireFailure(new Error('m'.repeat(MAX_FAILURE_TEXT_LENGTH * 2)));
    expect(f.message).toHaveLength(MAX_FAILURE_TEXT_LENGTH);
    expect(f.message.endsWith('…')).toBe(true);
  });
});

describe('failureSummary', () => {
  it('formats name[code]: message', () => {
    expect(
      failureSummary({ name: 'NonRetryableError', code: 'BAD_INPUT', message: 'no', retryable: false }),
    ).toBe('NonRetryableError[BAD_INPUT]: no');
    expect(failureSummary({ name: 'TypeError', message: 'x is not a function', retryable: true })).toBe(
      'TypeError: x is not a function',
    );
    expect(failureSummary({ name: 'Error', message: '', retryable: true })).toBe('Error');
  });

  it('is one line, whitespace collapsed', () => {
    const summary = failureSummary(
      toWireFailure(new Error('fetch failed:\n  status 503\r\n\tretry later  \n'), { includeStack: true }),
    );
    expect(summary).toBe('Error: fetch failed: status 503 retry later');
  });

  it(`is cut to ${FAILURE_SUMMARY_LENGTH} characters`, () => {
    const summary = failureSummary({ name: 'Error', message: 'word '.repeat(500), retryable: true });
    expect(summary).toHaveLength(FAILURE_SUMMARY_LENGTH);
    expect(summary.endsWith('…')).toBe(true);
    expect(summary).not.toMatch(/\n/);
    const emoji = failureSummary({ name: 'E', message: '😀'.repeat(300), retryable: true });
    expect(emoji.length).toBeLessThanOrEqual(FAILURE_SUMMARY_LENGTH);
    expect(emoji).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/); // no lone high surrogate
  });
});

describe('parseWireFailure', () => {
  it('returns a fresh plain copy with the known fields only', () => {
    const input = {
      name: 'Error',
      message: 'x',
      retryable: true,
      code: 'C',
      stack: 'Error: x',
      details: [1],
      extra: 'ignored',
      cause: { name: 'Inner', message: 'y', retryable: false, other: 1 },
    };
    const f = parseWireFailure(input);
    expect(f).toEqual({
      name: 'Error',
      message: 'x',
      retryable: true,
      code: 'C',
      stack: 'Error: x',
      details: [1],
      cause: { name: 'Inner', message: 'y', retryable: false },
    });
    expect(f).not.toBe(input);
  });

  it.each([
    [null, 'failure must be a map, got nil'],
    [[], 'failure must be a map, got array'],
    [new Map(), 'failure must be a map, got Map'],
    [{ message: 'x', retryable: true }, 'failure.name must be a string, got nothing'],
    [{ name: 'E', retryable: true }, 'failure.message must be a string'],
    [{ name: 'E', message: 'x' }, 'failure.retryable must be a boolean, got nothing'],
    [{ name: 'E', message: 'x', retryable: 1 }, 'failure.retryable must be a boolean, got number'],
    [{ name: 'E', message: 'x', retryable: true, code: 7 }, 'failure.code must be a string'],
    [{ name: 'E', message: 'x', retryable: true, stack: null }, 'failure.stack must be a string, got nil'],
    [{ name: 'E', message: 'x', retryable: true, cause: 'text' }, 'failure.cause must be a map, got string'],
    [
      { name: 'E', message: 'x', retryable: true, cause: { name: 'E', message: 'y' } },
      'failure.cause.retryable must be a boolean',
    ],
  ])('rejects %j', (value, message) => {
    let error: unknown;
    try {
      parseWireFailure(value);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EnvelopeError);
    expect((error as EnvelopeError).code).toBe('ENVELOPE_INVALID');
    expect((error as EnvelopeError).message).toContain(message);
  });

  it(`rejects a cause chain longer than ${MAX_CAUSE_DEPTH}`, () => {
    const ok = toWireFailure(chain(100), { maxCauseDepth: MAX_CAUSE_DEPTH });
    expect(causeDepth(parseWireFailure(ok))).toBe(MAX_CAUSE_DEPTH);
    const tooLong: WireFailure = { name: 'E', message: 'top', retryable: true, cause: ok };
    expect(() => parseWireFailure(tooLong)).toThrow(/more than 32 causes/);
  });
});
