// Loaded by the globally installed `mesoskit-executor --handlers <this file>`; `@mesoskit/executor`
// here resolves to the app's own copy, whose registry the global CLI accepts.
import { handle, handlers, NonRetryableError } from '@mesoskit/executor';
import { square } from './tasks.mjs';

export default handlers(
  handle(square, async ({ n }) => {
    if (n < 0) throw new NonRetryableError(`${n} is negative`, { code: 'NEGATIVE' });
    return { square: n * n, executor: process.argv[1], pid: process.pid };
  }),
);
