import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bearerToken, claimsMatch, ExecutorTokens } from '../../src/agent/executor-token.js';

const CLAIMS = { fid: 'f-0000', eid: 'exec-1', cid: 'c1' };
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token signed with `secret` from the given parts, as any JWT library would build it. */
function handMade(secret: Buffer, header: unknown, payload: unknown): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

describe('ExecutorTokens', () => {
  it('issues an HS256 JWT with the fid/eid/cid claims, which it verifies', () => {
    const tokens = new ExecutorTokens();
    const token = tokens.issue(CLAIMS);
    const [header, payload, signature] = token.split('.');
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(JSON.parse(Buffer.from(payload!, 'base64url').toString())).toEqual(CLAIMS);
    expect(signature).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tokens.verify(token)).toEqual(CLAIMS);
  });

  it('signs with HMAC-SHA256 of the secret, so a standard JWT verifies', () => {
    const secret = Buffer.from('a secret of 32 bytes, more or less');
    const tokens = new ExecutorTokens(secret);
    expect(tokens.issue(CLAIMS)).toBe(handMade(secret, { alg: 'HS256', typ: 'JWT' }, CLAIMS));
    expect(tokens.verify(handMade(secret, { typ: 'JWT', alg: 'HS256' }, CLAIMS))).toEqual(CLAIMS);
  });

  it("rejects another agent's token (each agent has its own random secret)", () => {
    expect(new ExecutorTokens().verify(new ExecutorTokens().issue(CLAIMS))).toBeUndefined();
  });

  it('rejects tampered, malformed and unsigned tokens', () => {
    const secret = Buffer.from('secret');
    const tokens = new ExecutorTokens(secret);
    const token = tokens.issue(CLAIMS);
    const [header, , signature] = token.split('.') as [string, string, string];
    const forged = `${header}.${b64({ ...CLAIMS, eid: 'exec-2' })}.${signature}`;
    const flipped = `${token.slice(0, -2)}${token.at(-2) === 'A' ? 'B' : 'A'}${token.at(-1)}`;
    for (const bad of [
      '',
      'garbage',
      'a.b.c',
      forged,
      flipped,
      `${token}.x`,
      token.split('.').slice(0, 2).join('.'),
      `${token.split('.').slice(0, 2).join('.')}.`,
      `${token}=`,
      handMade(secret, { alg: 'none', typ: 'JWT' }, CLAIMS),
      handMade(secret, { alg: 'HS256', typ: 'JWS' }, CLAIMS),
      handMade(secret, { alg: 'HS256', typ: 'JWT' }, { fid: 'f', eid: 'e' }),
      handMade(secret, { alg: 'HS256', typ: 'JWT' }, { fid: 'f', eid: 1, cid: 'c' }),
      handMade(secret, { alg: 'HS256', typ: 'JWT' }, ['f', 'e', 'c']),
      handMade(secret, 'HS256', CLAIMS),
    ]) {
      expect(tokens.verify(bad), bad).toBeUndefined();
    }
  });
});

describe('bearerToken', () => {
  it('takes the token of a Bearer header only', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer abc')).toBe('abc');
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken('')).toBeUndefined();
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken('Bearer ')).toBeUndefined();
    expect(bearerToken('Basic dXNlcjpwYXNz')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
  });
});

describe('claimsMatch', () => {
  it('compares framework, executor and (when given) container', () => {
    expect(claimsMatch(CLAIMS, 'f-0000', 'exec-1')).toBe(true);
    expect(claimsMatch(CLAIMS, 'f-0000', 'exec-1', 'c1')).toBe(true);
    expect(claimsMatch(CLAIMS, 'f-0000', 'exec-1', 'c2')).toBe(false);
    expect(claimsMatch(CLAIMS, 'f-0000', 'exec-2')).toBe(false);
    expect(claimsMatch(CLAIMS, 'f-0001', 'exec-1')).toBe(false);
  });
});
