/**
 * Durations in stout's text form (`5secs`, `1500ms`, `15mins`), as Mesos prints them in
 * executor environment variables and messages such as `Executor did not register within 1mins`.
 */
const UNITS: [string, number][] = [
  ['weeks', 7 * 24 * 3600e3],
  ['days', 24 * 3600e3],
  ['hrs', 3600e3],
  ['mins', 60e3],
  ['secs', 1e3],
  ['ms', 1],
  ['us', 1e-3],
  ['ns', 1e-6],
];

/**
 * Formats milliseconds the way stout does: the largest unit in which the value is whole,
 * e.g. 5000 → `5secs`, 90000 → `90secs`, 1500 → `1500ms`, 900000 → `15mins`, 60000 → `1mins`.
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0ns';
  for (const [unit, size] of UNITS) {
    const n = ms / size;
    if (Math.abs(n) >= 1 && Math.abs(n - Math.round(n)) < 1e-9) return `${Math.round(n)}${unit}`;
  }
  return `${Math.round(ms * 1e6)}ns`;
}

const DURATION = /^(\d+(?:\.\d+)?)(ns|us|ms|secs|mins|hrs|days|weeks)$/;

/** Parses a stout duration (or a plain number of milliseconds) into milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  const size = UNITS.find(([u]) => u === m[2])![1];
  return Number(m[1]) * size;
}
