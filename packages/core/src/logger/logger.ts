/**
 * The logger txbox writes to. Structurally compatible with pino (`logger.info(obj, msg)`)
 * through {@link fromPino}-style adapters, and with Nest's `Logger` through the adapter
 * package. Each method takes a message and optional structured fields.
 */
export interface TxboxLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Discards everything: the default, so a library never writes to stdout uninvited. */
export const silentLogger: TxboxLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Writes warnings and errors (and, with `verbose`, everything) to the console. */
export function consoleLogger(options: { verbose?: boolean } = {}): TxboxLogger {
  const write = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) => {
    if (!options.verbose && (level === 'debug' || level === 'info')) return;
    const line = fields ? `${message} ${JSON.stringify(fields)}` : message;
    console[level](`[txbox] ${line}`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** Anything with pino's `(fields, message)` calling convention. */
export interface PinoLike {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Adapts a pino logger (or anything with its calling convention) to {@link TxboxLogger}. */
export function fromPino(logger: PinoLike): TxboxLogger {
  return {
    debug: (m, f) => logger.debug(f ?? {}, m),
    info: (m, f) => logger.info(f ?? {}, m),
    warn: (m, f) => logger.warn(f ?? {}, m),
    error: (m, f) => logger.error(f ?? {}, m),
  };
}
