/**
 * Structured logging: constant messages, data in `meta`. Library code never calls `console`;
 * it takes a `Logger`. The default writes one JSON line per entry to stderr at `warn` and up.
 */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  trace(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

const ORDER: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4 };

/** A logger writing JSON lines to stderr for entries at `level` or above. */
export function stderrLogger(level: LogLevel = 'warn', base: Record<string, unknown> = {}): Logger {
  const make =
    (l: LogLevel) =>
    (message: string, meta?: Record<string, unknown>): void => {
      if (ORDER[l] < ORDER[level]) return;
      process.stderr.write(
        `${JSON.stringify({ time: new Date().toISOString(), level: l, message, ...base, ...meta })}\n`,
      );
    };
  return {
    trace: make('trace'),
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
  };
}

/** A logger that adds `context` to every entry of `logger`. */
export function childLogger(logger: Logger, context: Record<string, unknown>): Logger {
  const wrap =
    (fn: Logger['info']) =>
    (message: string, meta?: Record<string, unknown>): void =>
      fn(message, { ...context, ...meta });
  return {
    trace: wrap(logger.trace.bind(logger)),
    debug: wrap(logger.debug.bind(logger)),
    info: wrap(logger.info.bind(logger)),
    warn: wrap(logger.warn.bind(logger)),
    error: wrap(logger.error.bind(logger)),
  };
}

/** Discards everything. */
export const silentLogger: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
