/**
 * The soak's record of failed tasks: each failure's error (class, message, code, the cause chain
 * with a TaskLostError's state/reason/source, attempts), grouped for the end-of-run summary.
 */

/** One error of a cause chain, as far as the soak needs it. */
export interface ErrorRecord {
  name: string;
  message: string;
  code?: string;
  attempts?: number;
  state?: string;
  reason?: string;
  source?: string;
}

export interface FailureRecord {
  taskId: string;
  n: number;
  /** When it settled, ms since the soak started. */
  atMs: number;
  /** The error, then its causes. */
  chain: ErrorRecord[];
}

function field(err: object, key: string): unknown {
  return (err as Record<string, unknown>)[key];
}

/** The error and its `cause` chain (at most 8 deep). */
export function describeError(err: unknown): ErrorRecord[] {
  const chain: ErrorRecord[] = [];
  let e: unknown = err;
  while (e !== undefined && chain.length < 8) {
    if (typeof e !== 'object' || e === null) {
      chain.push({ name: typeof e, message: String(e) });
      break;
    }
    const rec: ErrorRecord = {
      name: String(field(e, 'name') ?? e.constructor?.name ?? 'Object'),
      message: String(field(e, 'message') ?? ''),
    };
    for (const key of ['code', 'state', 'reason', 'source'] as const) {
      const v = field(e, key);
      if (typeof v === 'string') rec[key] = v;
    }
    const attempts = field(e, 'attempts');
    if (typeof attempts === 'number') rec.attempts = attempts;
    chain.push(rec);
    e = field(e, 'cause');
  }
  return chain;
}

/** A failure's group: its classes, codes, states and reasons, and its messages with ids and numbers masked. */
export function groupKey(chain: ErrorRecord[]): string {
  return chain
    .map((r) =>
      [r.name, r.code, r.state, r.reason, r.source, r.message.replace(/[\w-]*\d[\w.-]*/g, '#')]
        .filter((x) => x !== undefined)
        .join(' '),
    )
    .join(' <- ');
}

export class FailureLog {
  readonly records: FailureRecord[] = [];
  readonly #start = Date.now();

  add(taskId: string, n: number, err: unknown): void {
    this.records.push({ taskId, n, atMs: Date.now() - this.#start, chain: describeError(err) });
  }

  get count(): number {
    return this.records.length;
  }

  /** Failures grouped by class, code, state, reason and (masked) message, biggest group first, with a few examples each. */
  summary(examples = 3): string {
    if (this.records.length === 0) return 'no task failed';
    const groups = new Map<string, FailureRecord[]>();
    for (const r of this.records) {
      const key = groupKey(r.chain);
      let g = groups.get(key);
      if (g === undefined) {
        g = [];
        groups.set(key, g);
      }
      g.push(r);
    }
    const lines = [`${this.records.length} task(s) failed, in ${groups.size} group(s):`];
    for (const [key, g] of [...groups].sort((a, b) => b[1].length - a[1].length)) {
      lines.push(`  ${g.length} × ${key}`);
      for (const r of g.slice(0, examples)) {
        lines.push(
          `    e.g. ${r.taskId} (n=${r.n}, at ${(r.atMs / 1000).toFixed(1)} s): ${JSON.stringify(r.chain)}`,
        );
      }
    }
    return lines.join('\n');
  }
}
