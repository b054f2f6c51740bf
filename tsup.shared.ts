import type { Options } from 'tsup';

/**
 * The one tsup configuration every published package builds with: ESM + CJS + `.d.ts`,
 * source maps, a clean `dist/`, and a target matching the `engines.node` floor (Node 20).
 * Packages pass their entry points; CLIs get a second, ESM-only config (see `cliConfig`).
 */
export function libraryConfig(entry: Record<string, string>, options: { keep?: string[] } = {}): Options {
  return {
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    // tsup builds an array of configs in parallel: files another config writes (a CLI) are kept.
    clean: (options.keep ?? []).map((pattern) => `!${pattern}`),
    target: 'node20',
    platform: 'node',
    splitting: false,
    treeshake: true,
  };
}

/**
 * ESM-only build for a `bin` entry; tsup keeps the shebang and marks the file executable. Use
 * it next to `libraryConfig(…, { keep: ['cli.*'] })` so the library's clean spares its output.
 */
export function cliConfig(entry: Record<string, string>): Options {
  return {
    entry,
    format: ['esm'],
    dts: false,
    sourcemap: true,
    clean: false,
    target: 'node20',
    platform: 'node',
  };
}
