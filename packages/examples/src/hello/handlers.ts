/**
 * hello's handler, loaded on the agents by `mesoskit-executor --handlers <this module>`. One
 * executor process runs many of these at once.
 *
 * @module
 */
import { handle, handlers } from '@mesoskit/executor';
import { hi } from './tasks.js';

export default handlers(
  handle(hi, async ({ index }, ctx) => {
    const line = `hi ${index}`;
    // The executor's stdout is the sandbox's `stdout` file (its own log goes to stderr).
    process.stdout.write(`${line}\n`);
    ctx.log.info('said hi', { index });
    return { line, pid: process.pid, sandbox: ctx.sandbox };
  }),
);
