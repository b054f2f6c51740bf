/**
 * pi's handler. CPU-bound, so it runs in the executor's worker-thread pool
 * (`isolation: 'worker'`): the executor's event loop keeps answering the agent meanwhile.
 *
 * @module
 */
import { handle, handlers } from '@mesoskit/executor';
import { countInside, sample } from './tasks.js';

export default handlers(
  handle(sample, ({ points, seed }) => ({ inside: countInside(points, seed), points }), {
    isolation: 'worker',
  }),
);
