/**
 * Durations as Mesos writes them (stout's text form: `5secs`, `1500ms`, `15mins`, in executor
 * environment variables and messages such as `Executor did not register within 1mins`), and
 * the short forms command lines take (`60s`, `500ms`, `2m`, `1h`).
 *
 * @module
 */

/** stout's units, largest first, in milliseconds. */
const STOUT_UNITS: readonly [string, number][] = [
  ['weeks', 7 * 86400e3],
  ['days', 86400e3],
  ['hrs', 3600e3],
  ['mins', 60e3],
  ['secs', 1e3],
  ['ms', 1],
  ['us', 1e-3],
  ['ns', 1e-6],
];

const UNIT_MS: Record<string, number> = {
  ...Object.fromEntries(STOUT_UNITS),
  s: 1e3,
  sec: 1e3,
  m: 60e3,
  min: 60e3,
  h: 3600e3,
  hr: 3600e3,
  d: 86400e3,
};

const DURATION = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/;

/**
 * Parses a duration such as `5secs`, `1500ms`, `15mins` (stout, as in `MESOS_*` variables) or
 * `60s`, `2m`, `1h` into milliseconds. A bare number is milliseconds. `undefined` when the text
 * is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(t)) return Number(t);
  const m = DURATION.exec(t);
  if (!m) return undefined;
  const unit = UNIT_MS[m[2]!];
  if (unit === undefined) return undefined;
  return Number(m[1]) * unit;
}

/**
 * Formats milliseconds the way stout does: the largest unit in which the value is whole,
 * e.g. 5000 → `5secs`, 90000 → `90secs`, 1500 → `1500ms`, 900000 → `15mins`, 60000 → `1mins`.
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0ns';
  for (const [unit, size] of STOUT_UNITS) {
    const n = ms / size;
    if (Math.abs(n) >= 1 && Math.abs(n - Math.round(n)) < 1e-9) return `${Math.round(n)}${unit}`;
  }
  return `${Math.round(ms * 1e6)}ns`;
}
