import { defineConfig } from 'tsup';
import { cliConfig, libraryConfig } from '../../tsup.shared.js';

export default defineConfig([
  libraryConfig({ index: 'src/index.ts', testing: 'src/testing.ts' }, { keep: ['cli.*', 'cli-*'] }),
  {
    ...cliConfig({ cli: 'src/cli.ts' }),
    // The CLI imports the runtime lazily (it sends SUBSCRIBE first): its chunks are cli-*.js,
    // which the library build's clean spares, and this build cleans (no stale chunks).
    clean: ['cli.*', 'cli-*'],
    esbuildOptions(options) {
      options.chunkNames = 'cli-[name]-[hash]';
    },
  },
]);
