import { defineConfig } from 'tsup';
import { cliConfig } from '../../tsup.shared.js';

// The demos are programs, not a library: ESM only, no type declarations.
export default defineConfig({ ...cliConfig({ index: 'src/index.ts' }), clean: true });
