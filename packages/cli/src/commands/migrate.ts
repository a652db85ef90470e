// `txbox migrate`: the migration commands the per-package `txbox-outbox` / `txbox-inbox` binaries
// offered (those stay, for existing deploy scripts), for both components from one command.
import type { MigrationStatus } from '@txbox/core';
import { inboxMigrationSql, inboxMigrationStatus, migrateInbox } from '@txbox/inbox';
import { migrateOutbox, outboxMigrationSql, outboxMigrationStatus } from '@txbox/outbox';
import { CONNECTION_HELP, CONNECTION_OPTIONS, databaseUrl, integer, parseCommand } from '../cli/args.js';
import type { Command } from '../cli/command.js';
import { EXIT_CODES, UsageError } from '../cli/exit-codes.js';
import { print } from '../cli/io.js';

const COMPONENTS = {
  outbox: { migrate: migrateOutbox, status: outboxMigrationStatus, sql: outboxMigrationSql },
  inbox: { migrate: migrateInbox, status: inboxMigrationStatus, sql: inboxMigrationSql },
} as const;
type Component = keyof typeof COMPONENTS;

function components(positionals: string[], allowAll: boolean): Component[] {
  const [name, ...rest] = positionals;
  if (rest.length > 0 || !name) throw new UsageError(`name one component: outbox, inbox${allowAll ? ' or all' : ''}`);
  if (allowAll && name === 'all') return ['outbox', 'inbox'];
  if (name !== 'outbox' && name !== 'inbox') throw new UsageError(`unknown component ${JSON.stringify(name)}`);
  return [name];
}

/** A migration status as printed: the pending migrations by version and name, without their SQL. */
export function statusView(status: MigrationStatus) {
  return {
    component: status.component,
    schema: status.schema,
    current: status.current,
    latest: status.latest,
    pending: status.pending.map((m) => ({ version: m.version, name: m.name })),
    upToDate: status.current === status.latest,
  };
}

export function statusLine(status: MigrationStatus): string {
  const state =
    status.current > status.latest
      ? 'NEWER than this txbox: upgrade the @txbox packages'
      : status.current === status.latest
        ? 'up to date'
        : `${status.pending.length} pending: ${status.pending.map((m) => `${m.version} ${m.name}`).join(', ')}`;
  return `${status.component} schema "${status.schema}": version ${status.current} of ${status.latest} (${state})`;
}

export const migrateApply: Command = {
  path: ['migrate'],
  summary: 'Apply pending migrations (outbox, inbox or all)',
  help: `Usage: txbox migrate <outbox|inbox|all> [options]

Applies pending migrations in one transaction per component, under an advisory lock (safe to run
from several places at once).

${CONNECTION_HELP}`,
  async run(argv, io) {
    const { values, positionals } = parseCommand(argv, CONNECTION_OPTIONS);
    const database = databaseUrl(values, io);
    const applied: MigrationStatus[] = [];
    for (const name of components(positionals, true)) {
      applied.push(await COMPONENTS[name].migrate({ database, schema: values.schema }));
    }
    print(io, values.json, applied.map(statusView), () => applied.map(statusLine));
    return EXIT_CODES.ok;
  },
};

export const migrateStatus: Command = {
  path: ['migrate', 'status'],
  summary: 'Show applied and pending migrations (exit code 3 while any are pending)',
  help: `Usage: txbox migrate status <outbox|inbox|all> [options]

Exit code 3 while migrations are pending or the schema is newer than this txbox.

${CONNECTION_HELP}`,
  async run(argv, io) {
    const { values, positionals } = parseCommand(argv, CONNECTION_OPTIONS);
    const database = databaseUrl(values, io);
    const statuses: MigrationStatus[] = [];
    for (const name of components(positionals, true)) {
      statuses.push(await COMPONENTS[name].status({ database, schema: values.schema }));
    }
    print(io, values.json, statuses.map(statusView), () => statuses.map(statusLine));
    return statuses.every((s) => s.current === s.latest) ? EXIT_CODES.ok : EXIT_CODES.migrationsPending;
  },
};

export const migrateSql: Command = {
  path: ['migrate', 'sql'],
  summary: 'Print a component schema as SQL (for teams that run their own migrations)',
  help: `Usage: txbox migrate sql <outbox|inbox> [--schema <name>] [--from-version <n>]

Prints the SQL; running it and then "txbox migrate" is safe (the versions are recorded).

Options:
  --schema <name>         PostgreSQL schema (default: txbox)
  --from-version <n>      Only migrations after version n
  -h, --help              Show this help`,
  async run(argv, io) {
    const { values, positionals } = parseCommand(argv, {
      schema: { type: 'string', default: 'txbox' },
      'from-version': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    });
    const [name] = components(positionals, false) as [Component];
    io.stdout(
      COMPONENTS[name].sql({
        schema: values.schema,
        fromVersion: integer('from-version', values['from-version']) ?? 0,
      }),
    );
    return EXIT_CODES.ok;
  },
};
