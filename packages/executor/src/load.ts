/**
 * Loading the handler module the CLI is pointed at.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HandlerModuleError } from './errors.js';
import { type HandlerRegistry, isHandlerRegistry, withSource } from './handlers.js';

/**
 * Imports a handler module and returns its default export, which must be built with
 * `handlers(...)`. `specifier` is a path (relative to `cwd`: the sandbox, where
 * `CommandInfo.uris` land) or a `file:` URL.
 *
 * @throws {HandlerModuleError} with a one-line message naming the module: not found, failed to
 *   load (with the module's own error), or no `handlers(...)` default export.
 */
export async function loadHandlers(specifier: string, cwd: string = process.cwd()): Promise<HandlerRegistry> {
  if (typeof specifier !== 'string' || specifier.trim() === '') {
    throw new HandlerModuleError('no handler module given (--handlers <module path or file URL>)');
  }
  let url: string;
  let shown: string;
  if (specifier.startsWith('file:')) {
    url = specifier;
    shown = specifier;
    let exists = false;
    try {
      exists = existsSync(new URL(specifier));
    } catch {
      throw new HandlerModuleError(`handler module ${specifier} is not a valid file URL`);
    }
    if (!exists) throw new HandlerModuleError(`handler module not found: ${specifier}`);
  } else {
    const path = isAbsolute(specifier) ? specifier : resolve(cwd, specifier);
    shown = path;
    if (!existsSync(path)) throw new HandlerModuleError(`handler module not found: ${path}`);
    url = pathToFileURL(path).href;
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new HandlerModuleError(`handler module ${shown} failed to load: ${oneLine(reason)}`, {
      cause: err,
    });
  }
  const registry = mod.default;
  if (!isHandlerRegistry(registry)) {
    throw new HandlerModuleError(
      `handler module ${shown} must export default handlers(...) from @mesoskit/executor, got ${describe(registry)}`,
    );
  }
  if (registry.list.length === 0)
    throw new HandlerModuleError(`handler module ${shown} registers no handlers`);
  return withSource(registry, url);
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

function describe(value: unknown): string {
  if (value === undefined) return 'no default export';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
