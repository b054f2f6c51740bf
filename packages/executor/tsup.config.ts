import { defineConfig } from 'tsup';
import { cliConfig, libraryConfig } from '../../tsup.shared.js';

export default defineConfig([
  libraryConfig({ index: 'src/index.ts', testing: 'src/testing.ts' }, { keep: ['cli.*'] }),
  cliConfig({ cli: 'src/cli.ts' }),
]);
