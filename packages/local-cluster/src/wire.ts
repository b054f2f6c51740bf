/**
 * JSON for the local cluster's own data (the agent checkpoint and the agent ↔ master HTTP
 * link): Mesos v1 messages as `@mesoskit/protocol` types them, with bytes as
 * `{"$bytes": "<base64>"}` and 64-bit integers (bigint) as `{"$int64": "<decimal>"}`.
 */

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

/** Characters JSON escapes (`JSON.stringify` escapes lone surrogates too). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

const quote = (s: string): string => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);

/**
 * One value as `JSON.stringify` with the wire replacer writes it (`toJSON` first, then bytes and
 * bigints tagged; undefined, functions and symbols left out), without a replacer call per key.
 */
function stringify(value: unknown, key: string): string | undefined {
  if (value !== null && (typeof value === 'object' || typeof value === 'bigint')) {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') value = toJSON.call(value, key);
  }
  if (value instanceof Uint8Array) {
    const base64 = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
    return `{"$bytes":"${base64}"}`;
  }
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return `{"$int64":"${value}"}`;
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += stringify(value[i], String(i)) ?? 'null';
        }
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      let out = '{';
      for (const k of Object.keys(record)) {
        const v = stringify(record[k], k);
        if (v === undefined) continue;
        if (out.length > 1) out += ',';
        out += `${quote(k)}:${v}`;
      }
      return `${out}}`;
    }
    default:
      return undefined;
  }
}

export const toWireJson = (value: unknown): string => stringify(value, '') as string;

/** Parses wire JSON; throws `SyntaxError` on bad input. */
export const fromWireJson = <T>(text: string): T => JSON.parse(text, reviver) as T;
