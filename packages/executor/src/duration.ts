/**
 * Durations: stout's text form as Mesos writes it into the executor's environment (`5secs`,
 * `1500ms`, `15mins`), and the short form the CLI takes (`60s`, `500ms`, `2m`, `1h`).
 *
 * @module
 */

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  ms: 1,
  s: 1e3,
  sec: 1e3,
  secs: 1e3,
  m: 60e3,
  min: 60e3,
  mins: 60e3,
  h: 3600e3,
  hr: 3600e3,
  hrs: 3600e3,
  d: 86400e3,
  days: 86400e3,
  weeks: 7 * 86400e3,
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
