import { defineConfig } from 'tsup';
import { cliConfig } from '../../tsup.shared.js';

/**
 * Each demo is a folder under `src/` with a `main.ts` (the program, run by its script) and a
 * `handlers.ts` (the module the agents' `mesoskit-executor --handlers` loads): both are built to
 * `dist/<demo>/`. Add a demo to this list.
 */
const DEMOS = ['pinspider'];

// The demos are programs, not a library: ESM only, no type declarations, node20 target.
export default defineConfig({
  ...cliConfig(
    Object.fromEntries(
      DEMOS.flatMap((demo) => [
        [`${demo}/main`, `src/${demo}/main.ts`],
        [`${demo}/handlers`, `src/${demo}/handlers.ts`],
      ]),
    ),
  ),
  // One file per entry: a handler module can be copied (or fetched) on its own.
  splitting: false,
  clean: true,
});
