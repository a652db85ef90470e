// The dashboard's options, parsed once by zod at createDashboard(); each default written once here.

import type { IncomingMessage } from 'node:http';
import type { AmqpConnection, DatabaseInput } from '@txbox/core';
import { parseOptions } from '@txbox/core/internal';
import { z } from 'zod';

/** Decides whether a request may see the dashboard (and, with actions on, act). */
export type DashboardAuthorize = (req: IncomingMessage) => boolean | Promise<boolean>;

export interface DashboardOptions {
  /** PostgreSQL: a connection string (the dashboard owns a small pool, ended by `close()`) or a `pg.Pool` (yours to end). */
  database: DatabaseInput;
  /** RabbitMQ, for the consumer groups' queues and dead letters: an amqp:// URL or an `AmqpConnection` (yours to close). Without it the page shows the outbox only. */
  amqp?: string | AmqpConnection;
  /** Schema of the txbox tables. @defaultValue `'txbox'` */
  schema?: string;
  /** WAL mode: the replication slot whose lag the overview shows (shown only when it exists). @defaultValue `txbox_<schema>` */
  slot?: string;
  /** Consumer groups to show (their queue, retry queues, dead-letter queue, inbox records and consume rate). @defaultValue `[]` */
  groups?: string[];
  /**
   * Requeue, replay and purge buttons. Off unless a token is given: every action is a POST that
   * must carry this token (form field `token` or header `x-txbox-token`). At least 16 characters.
   * @defaultValue `undefined` (read-only)
   */
  actions?: { token: string };
  /**
   * Called for every request before anything is read; false answers 403. Use it to plug the
   * dashboard into your application's authentication. @defaultValue allow every request
   */
  authorize?: DashboardAuthorize;
  /**
   * Dotted paths of payload fields shown as `[redacted]` (`*` matches any one key or index, e.g.
   * `customer.email`, `items.*.card`); a path starting with `headers.` redacts a header. @defaultValue `[]`
   */
  redact?: string[];
  /** How often the stats are sampled for the rate charts, in ms. @defaultValue `5000` */
  sampleIntervalMs?: number;
  /** How many samples the charts keep (the window is this times the interval). @defaultValue `120` */
  samples?: number;
  /** Rows per dead-letter list page. @defaultValue `50` */
  pageSize?: number;
}

const MAX_PAGE = 500;

export const dashboardOptionsSchema = z.object({
  database: z.custom<DatabaseInput>((v) => typeof v === 'string' || (typeof v === 'object' && v !== null), {
    error: 'must be a PostgreSQL URL or a pg.Pool',
  }),
  amqp: z
    .custom<string | AmqpConnection>((v) => typeof v === 'string' || (typeof v === 'object' && v !== null), {
      error: 'must be an amqp:// URL or an AmqpConnection',
    })
    .optional(),
  schema: z.string().default('txbox'),
  // The admin validates the name and derives the default from the schema.
  slot: z.string().optional(),
  groups: z.array(z.string().min(1)).max(100).default([]),
  actions: z
    .object({ token: z.string().min(16, { error: 'the action token must be at least 16 characters' }) })
    .optional(),
  authorize: z.custom<DashboardAuthorize>((v) => typeof v === 'function', { error: 'must be a function' }).optional(),
  redact: z
    .array(z.string().regex(/^[^.\s]+(\.[^.\s]+)*$/, { error: 'must be a dotted path like customer.email' }))
    .default([]),
  sampleIntervalMs: z.number().int().min(250).max(3_600_000).default(5000),
  samples: z.number().int().min(2).max(10_000).default(120),
  pageSize: z.number().int().min(1).max(MAX_PAGE).default(50),
});

export type ResolvedDashboardOptions = z.output<typeof dashboardOptionsSchema>;

export function parseDashboardOptions(input: DashboardOptions): ResolvedDashboardOptions {
  return parseOptions(dashboardOptionsSchema, input, 'dashboard');
}
