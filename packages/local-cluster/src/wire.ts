/**
 * JSON for the local cluster's own data (the agent checkpoint and the agent ↔ master HTTP
 * link): Mesos v1 messages as `@mesoskit/protocol` types them, with bytes as
 * `{"$bytes": "<base64>"}` and 64-bit integers (bigint) as `{"$int64": "<decimal>"}`.
 */

const replacer = (_key: string, value: unknown): unknown => {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (typeof value === 'bigint') return { $int64: value.toString() };
  return value;
};

const reviver = (_key: string, value: unknown): unknown => {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    const keys = Object.keys(v);
    if (keys.length === 1 && typeof v.$bytes === 'string') {
      return new Uint8Array(Buffer.from(v.$bytes, 'base64'));
    }
    if (keys.length === 1 && typeof v.$int64 === 'string' && /^-?\d+$/.test(v.$int64)) {
      return BigInt(v.$int64);
    }
  }
  return value;
};

export const toWireJson = (value: unknown): string => JSON.stringify(value, replacer);

/** Parses wire JSON; throws `SyntaxError` on bad input. */
export const fromWireJson = <T>(text: string): T => JSON.parse(text, reviver) as T;
