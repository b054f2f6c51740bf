// Handlers for the executor bench, loaded by the built CLI (dist/cli.js) through the package's
// own name, the way a user's handler module would.

import { handle, handlers } from '@mesoskit/executor';
import { defineTask } from '@mesoskit/protocol';

export const noop = defineTask('bench.noop');
export const sleep = defineTask('bench.sleep');

export default handlers(
  handle(noop, () => null),
  handle(sleep, ({ ms }) => new Promise((resolve) => setTimeout(() => resolve(null), ms))),
);
