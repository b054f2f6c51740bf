/**
 * The shell command an `ExecutorInfo` uses to start `mesoskit-executor` with a demo's handler
 * module.
 *
 * By default the agent runs the executor CLI of this checkout with the `node` running the demo,
 * both by absolute path: right for the embedded local cluster (and for a real agent on this
 * machine). On agents where `@mesoskit/executor` is installed globally, `--executor-command`
 * replaces the part before `--handlers`, e.g. `exec mesoskit-executor`.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** The absolute path of `@mesoskit/executor`'s CLI (its `bin`, `dist/cli.js`). */
export function executorCliPath(): string {
  const manifest = require.resolve('@mesoskit/executor/package.json');
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: string | Record<string, string> };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.['mesoskit-executor'];
  if (bin === undefined) throw new Error(`${manifest} has no mesoskit-executor bin`);
  return join(dirname(manifest), bin);
}

/** The absolute path of a module next to `importMetaUrl` (a built demo's handler module). */
export function siblingModule(importMetaUrl: string, file: string): string {
  return fileURLToPath(new URL(file, importMetaUrl));
}

/** Quotes `word` for `sh` when it needs quoting. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The default launcher: `exec <node> <executor cli.js>`, both absolute. */
export function defaultExecutorLauncher(): string {
  return `exec ${shellQuote(process.execPath)} ${shellQuote(executorCliPath())}`;
}

/**
 * `<launcher> --handlers <handlersModule>`: the `CommandInfo.value` of an executor. `launcher`
 * (from `--executor-command`) defaults to {@link defaultExecutorLauncher}.
 */
export function executorCommand(handlersModule: string, launcher?: string): string {
  return `${launcher ?? defaultExecutorLauncher()} --handlers ${shellQuote(handlersModule)}`;
}
