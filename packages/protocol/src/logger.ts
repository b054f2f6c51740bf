/**
 * Structured logging shared by every mesoskit package: constant messages, data in `meta`.
 * Library code never calls `console`; it takes a {@link Logger}. `createLogger` writes one line
 * per entry (to stderr by default), as JSON or in a readable `pretty` form.
 *
 * @module
 */

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'pretty';

/** What mesoskit logs through. Messages are constant strings; data goes in `meta`. */
export interface Logger {
  trace(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

/** The log levels, lowest first. */
export const LOG_LEVELS: readonly LogLevel[] = Object.freeze(['trace', 'debug', 'info', 'warn', 'error']);

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  /**
   * The lowest level written.
   * @default 'warn'
   */
  level?: LogLevel;
  /**
   * `json`: one JSON object per line (`time`, `level`, `message`, then the meta fields);
   * `pretty`: `time LEVEL message key=value …`.
   * @default 'json'
   */
  format?: LogFormat;
  /** Fields added to every entry. */
  base?: Record<string, unknown>;
  /**
   * Where lines go.
   * @default writes to `process.stderr`
   */
  write?: (line: string) => void;
}

/** A logger writing one line per entry (to stderr by default) at `level` and above. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const min = LOG_LEVELS.indexOf(options.level ?? 'warn');
  const format = options.format ?? 'json';
  const base = options.base ?? {};
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const make =
    (level: LogLevel) =>
    (message: string, meta?: Record<string, unknown>): void => {
      if (LOG_LEVELS.indexOf(level) < min) return;
      const time = new Date().toISOString();
      const fields = { ...base, ...meta };
      write(
        format === 'json' ? jsonLine(time, level, message, fields) : prettyLine(time, level, message, fields),
      );
    };
  return loggerOf(make);
}

function jsonLine(time: string, level: LogLevel, message: string, fields: Record<string, unknown>): string {
  try {
    return `${JSON.stringify({ time, level, message, ...fields }, replacer)}\n`;
  } catch {
    return `${JSON.stringify({ time, level, message, meta: '[unserialisable]' })}\n`;
  }
}

function prettyLine(time: string, level: LogLevel, message: string, fields: Record<string, unknown>): string {
  let line = `${time} ${level.toUpperCase().padEnd(5)} ${message}`;
  for (const [key, value] of Object.entries(fields)) {
    let text: string;
    try {
      text = typeof value === 'string' ? value : (JSON.stringify(value, replacer) ?? String(value));
    } catch {
      text = String(value);
    }
    line += ` ${key}=${/\s/.test(text) ? JSON.stringify(text) : text}`;
  }
  return `${line.replace(/\n/g, '\\n')}\n`;
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  return value;
}

/** A logger that adds `context` to every entry of `logger` (entry meta wins on a clash). */
export function childLogger(logger: Logger, context: Record<string, unknown>): Logger {
  return loggerOf((level) => (message, meta) => {
    try {
      logger[level](message, meta === undefined ? context : { ...context, ...meta });
    } catch {
      // a throwing user logger must not break the caller
    }
  });
}

/** A `Logger` whose methods `make(level)` builds. */
function loggerOf(make: (level: LogLevel) => Logger[LogLevel]): Logger {
  return {
    trace: make('trace'),
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
  };
}

/** Discards everything. */
export const silentLogger: Logger = Object.freeze({
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
});

/** The part of a pino (or bunyan-style) logger {@link fromPino} needs: `level(obj, msg)`. */
export interface PinoLike {
  trace(obj: Record<string, unknown>, msg: string): void;
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/**
 * Adapts a pino logger (`logger.info(obj, msg)`) to mesoskit's `Logger` (`info(msg, meta)`),
 * so mesoskit's entries land in the application's pino output with their fields:
 * `TaskScheduler.connect({ …, logger: fromPino(pino()) })`. Errors in `meta` stay `Error`s, which pino
 * serialises with its `err` serialiser when the key is `err` or `error` (configure as usual).
 */
export function fromPino(logger: PinoLike): Logger {
  return loggerOf((level) => (message, meta) => logger[level](meta ?? {}, message));
}
