/**
 * Executor authentication tokens (`--authenticate_http_executors`, §1.11): an HS256 JWT per
 * executor run with the claims Mesos puts in it, `fid` (framework id), `eid` (executor id) and
 * `cid` (container id), signed with a secret of the agent. The executor gets it in
 * `MESOS_EXECUTOR_AUTHENTICATION_TOKEN` and sends it as `Authorization: Bearer <token>`.
 *
 * Neither tokens nor the secret are ever logged.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The claims of an executor token. */
export interface ExecutorClaims {
  fid: string;
  eid: string;
  cid: string;
}

/** `WWW-Authenticate` of a `401` from the executor endpoint. */
export const EXECUTOR_REALM = 'mesos-agent-executor';

const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** Signs and verifies executor tokens with one secret (by default 32 random bytes). */
export class ExecutorTokens {
  readonly #secret: Buffer;

  constructor(secret: Uint8Array = randomBytes(32)) {
    this.#secret = Buffer.from(secret);
  }

  /** A signed token for one executor run. */
  issue(claims: ExecutorClaims): string {
    const payload = base64url(JSON.stringify({ fid: claims.fid, eid: claims.eid, cid: claims.cid }));
    return `${HEADER}.${payload}.${this.#sign(`${HEADER}.${payload}`).toString('base64url')}`;
  }

  /**
   * The claims of a token this agent signed, or `undefined` when it is malformed, not HS256, or
   * its signature does not verify (compared in constant time).
   */
  verify(token: string): ExecutorClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [header, payload, signature] = parts as [string, string, string];
    if (!/^[A-Za-z0-9_-]*$/.test(signature)) return undefined;
    const expected = this.#sign(`${header}.${payload}`);
    const given = Buffer.from(signature, 'base64url');
    if (given.toString('base64url') !== signature) return undefined; // only the canonical form
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const head = parseJson(header);
    if (head?.alg !== 'HS256' || (head.typ !== undefined && head.typ !== 'JWT')) return undefined;
    const claims = parseJson(payload);
    if (!claims) return undefined;
    const { fid, eid, cid } = claims;
    if (typeof fid !== 'string' || typeof eid !== 'string' || typeof cid !== 'string') return undefined;
    return { fid, eid, cid };
  }

  #sign(input: string): Buffer {
    return createHmac('sha256', this.#secret).update(input).digest();
  }
}

/** The token of an `Authorization: Bearer <token>` header, if that is what it holds. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = header ? /^Bearer +(\S+) *$/i.exec(header) : null;
  return m ? m[1] : undefined;
}

/** True if the claims belong to this framework's executor (and, when given, this container). */
export function claimsMatch(
  claims: ExecutorClaims,
  frameworkId: string,
  executorId: string,
  containerId?: string,
): boolean {
  return (
    claims.fid === frameworkId &&
    claims.eid === executorId &&
    (containerId === undefined || claims.cid === containerId)
  );
}

function parseJson(part: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
