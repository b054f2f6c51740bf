/**
 * hello's one task, shared by the scheduler (main.ts) and the executor (handlers.ts): a name,
 * typed input and output, default resources. Importing it loads nothing heavy.
 *
 * @module
 */
import { defineTask } from '@mesoskit/protocol';

/** Prints `hi <index>` in the executor's sandbox stdout and returns the line. */
export const hi = defineTask<{ index: number }, { line: string; pid: number; sandbox: string }>('hello.hi', {
  resources: { cpus: 0.1, memMb: 32 },
});
