import { Logger } from '@nestjs/common';
import type { TxboxLogger } from '@txbox/core';

/** Routes txbox logs to Nest's logger (and so to whatever logger the application installed). */
export function nestLogger(context = 'Txbox'): TxboxLogger {
  const logger = new Logger(context);
  const line = (message: string, fields?: Record<string, unknown>) =>
    fields && Object.keys(fields).length > 0 ? `${message} ${JSON.stringify(fields)}` : message;
  return {
    debug: (m, f) => logger.debug(line(m, f)),
    info: (m, f) => logger.log(line(m, f)),
    warn: (m, f) => logger.warn(line(m, f)),
    error: (m, f) => logger.error(line(m, f)),
  };
}
