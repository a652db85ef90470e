// The options every command shares and the small parsing helpers on top of node:util parseArgs
// (strict: an unknown or misspelt option is a usage error, never silently ignored).
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError } from './exit-codes.js';
import type { CliIo } from './io.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options of every command that talks to PostgreSQL or RabbitMQ. */
export const CONNECTION_OPTIONS = {
  'database-url': { type: 'string' },
  'amqp-url': { type: 'string' },
  schema: { type: 'string', default: 'txbox' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

/** Options that select dead letters. */
export const SELECTION_OPTIONS = {
  id: { type: 'string', multiple: true },
  type: { type: 'string' },
  key: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  all: { type: 'boolean' },
  limit: { type: 'string' },
} as const satisfies Options;

export const SELECTION_HELP = `Selection:
  --id <id>               A message id (repeat for several)
  --type <type>           Message type
  --key <key>             Ordering key
  --since <time>          Dead-lettered at or after (ISO 8601)
  --until <time>          Dead-lettered before (ISO 8601)
  --all                   Every dead letter (requeue, replay and purge refuse an empty selection without it)
  --limit <n>             At most n`;

export const CONNECTION_HELP = `Connection:
  --database-url <url>    PostgreSQL URL (default: $DATABASE_URL)
  --amqp-url <url>        RabbitMQ URL (default: $AMQP_URL)
  --schema <name>         PostgreSQL schema of the txbox tables (default: txbox)
  --json                  Print JSON instead of text
  -h, --help              Show this help`;

/** parseArgs in strict mode; a parse failure becomes a {@link UsageError}. */
export function parseCommand<O extends Options>(
  argv: string[],
  options: O,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function databaseUrl(values: { 'database-url'?: string | undefined }, io: CliIo): string {
  const url = values['database-url'] ?? io.env.DATABASE_URL;
  if (!url) throw new UsageError('pass --database-url or set DATABASE_URL');
  return url;
}

export function amqpUrl(values: { 'amqp-url'?: string | undefined }, io: CliIo): string {
  const url = values['amqp-url'] ?? io.env.AMQP_URL;
  if (!url) throw new UsageError('pass --amqp-url or set AMQP_URL');
  return url;
}

/** A whole non-negative number given on the command line. */
export function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value)) throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** The selection options as the admin API takes them (its schema validates each value). */
export function selection(values: {
  id?: string[] | undefined;
  type?: string | undefined;
  key?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  all?: boolean | undefined;
}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (values.id) out.ids = values.id;
  if (values.type !== undefined) out.type = values.type;
  if (values.key !== undefined) out.key = values.key;
  if (values.since !== undefined) out.since = strictDate('since', values.since);
  if (values.until !== undefined) out.until = strictDate('until', values.until);
  if (values.all) out.all = true;
  return out;
}

function strictDate(name: string, value: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new UsageError(`--${name} must be a time (ISO 8601), got ${JSON.stringify(value)}`);
  return date;
}

/** Exactly one positional argument (an id), or a usage error. */
export function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected one ${what}`);
  return positionals[0] as string;
}
