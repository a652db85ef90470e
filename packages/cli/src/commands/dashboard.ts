// `txbox dashboard`: serves @txbox/dashboard on 127.0.0.1 until SIGINT or SIGTERM. Read-only
// unless --actions is given with a --token (or $TXBOX_DASHBOARD_TOKEN).
import { createServer } from 'node:http';
import { createDashboard } from '@txbox/dashboard';
import { amqpUrl, CONNECTION_OPTIONS, databaseUrl, integer, parseCommand } from '../cli/args.js';
import type { Command } from '../cli/command.js';
import { EXIT_CODES, UsageError } from '../cli/exit-codes.js';
import { type CliIo, safe } from '../cli/io.js';

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  port: { type: 'string', default: '4300' },
  host: { type: 'string', default: '127.0.0.1' },
  groups: { type: 'string' },
  actions: { type: 'boolean', default: false },
  token: { type: 'string' },
  redact: { type: 'string' },
  'sample-interval': { type: 'string' },
  slot: { type: 'string' },
} as const;

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Resolves when the process is asked to stop (tests and wrappers may pass their own `signal`). */
function stopped(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export const dashboard: Command = {
  path: ['dashboard'],
  summary: 'Serve the dashboard (backlog, rates, groups, dead letters) on 127.0.0.1',
  help: `Usage: txbox dashboard [options]

Serves the txbox dashboard: the outbox backlog and its age, publish and consume rates over the
last minutes, consumer groups with their queue, retry-queue and dead-letter depths, and the dead
letters of both sides. Read-only unless --actions is given with a token; runs until SIGINT/SIGTERM.

Options:
  --port <n>              Port (default: 4300; 0 picks a free one)
  --host <address>        Address to bind (default: 127.0.0.1; anything else exposes the page)
  --groups <g1,g2>        Consumer groups to show (needs --amqp-url or $AMQP_URL)
  --actions               Enable requeue, replay and purge (needs --token)
  --token <token>         Action token, 16 characters or more (default: $TXBOX_DASHBOARD_TOKEN)
  --redact <path,path>    Payload fields shown as [redacted] (dotted paths, * for any key; headers.<name>)
  --sample-interval <ms>  How often the charts sample the stats (default: 5000)
  --slot <name>           WAL mode: the replication slot whose lag is shown (default: txbox_<schema>)

${CONNECTION_OPTIONS_HELP()}`,
  async run(argv, io) {
    return serve(argv, io);
  },
};

function CONNECTION_OPTIONS_HELP(): string {
  return `Connection:
  --database-url <url>    PostgreSQL URL (default: $DATABASE_URL)
  --amqp-url <url>        RabbitMQ URL (default: $AMQP_URL)
  --schema <name>         PostgreSQL schema of the txbox tables (default: txbox)
  -h, --help              Show this help`;
}

/** Runs the dashboard until a signal (or `signal`) stops it. */
export async function serve(argv: string[], io: CliIo, signal?: AbortSignal): Promise<0> {
  const { values } = parseCommand(argv, OPTIONS);
  const port = integer('port', values.port) ?? 4300;
  if (port > 65_535) throw new UsageError('--port must be at most 65535');
  const groups = list(values.groups);
  const amqp = values['amqp-url'] ?? io.env.AMQP_URL;
  if (groups.length > 0 && !amqp) amqpUrl(values, io);
  const token = values.token ?? io.env.TXBOX_DASHBOARD_TOKEN;
  if (values.actions && !token) throw new UsageError('--actions needs --token (or $TXBOX_DASHBOARD_TOKEN)');
  if (!values.actions && values.token !== undefined) throw new UsageError('--token is only used with --actions');
  const handler = createDashboard({
    database: databaseUrl(values, io),
    schema: values.schema,
    groups,
    redact: list(values.redact),
    ...(values.slot === undefined ? {} : { slot: values.slot }),
    ...(values['sample-interval'] === undefined
      ? {}
      : { sampleIntervalMs: integer('sample-interval', values['sample-interval']) as number }),
    ...(amqp ? { amqp } : {}),
    ...(values.actions && token ? { actions: { token } } : {}),
  });
  const server = createServer(handler);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, values.host, () => resolve());
    });
    const address = server.address();
    const bound = typeof address === 'object' && address ? address.port : port;
    const host = values.host.includes(':') ? `[${values.host}]` : values.host;
    io.stdout(
      safe(`txbox dashboard on http://${host}:${bound}/ (${values.actions ? 'actions enabled' : 'read-only'})\n`),
    );
    await stopped(signal);
  } finally {
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await handler.close();
  }
  return EXIT_CODES.ok;
}
