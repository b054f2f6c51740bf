import { defineConfig } from 'tsup';
import { cliConfig } from '../../tsup.shared.js';

/**
 * Each demo is a folder under `src/` with a `main.ts` (the program, run by its script) and a
 * `handlers.ts` (the module the agents' `mesoskit-executor --handlers` loads). Add a demo to
 * this list. Built to `dist/<demo>/`:
 *
 * - `main.js` and `handlers.js`: ESM, dependencies left as imports (resolved from this package);
 * - `handlers.bundle.mjs`: the handler module with every dependency bundled in, one file that
 *   an agent can fetch into a sandbox and load with a globally installed executor
 *   (`--ship-handlers`). `.mjs`, because a sandbox has no package.json saying "type": "module".
 */
const DEMOS = ['hello', 'pinspider', 'pi'];

// The demos are programs, not a library: ESM only, no type declarations, node20 target.
export default defineConfig([
  {
    ...cliConfig(
      Object.fromEntries(
        DEMOS.flatMap((demo) => [
          [`${demo}/main`, `src/${demo}/main.ts`],
          [`${demo}/handlers`, `src/${demo}/handlers.ts`],
        ]),
      ),
    ),
    // One file per entry: a handler module can be copied on its own.
    splitting: false,
    // Both configs write to dist/ in parallel: this one cleans it, sparing the other's output.
    clean: ['!**/handlers.bundle.mjs'],
  },
  {
    ...cliConfig(
      Object.fromEntries(DEMOS.map((demo) => [`${demo}/handlers.bundle`, `src/${demo}/handlers.ts`])),
    ),
    noExternal: [/.*/],
    splitting: false,
    sourcemap: false,
    outExtension: () => ({ js: '.mjs' }),
  },
]);
