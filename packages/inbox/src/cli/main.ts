#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { isTxboxError } from '@txbox/core';
import { inboxMigrationSql, inboxMigrationStatus, migrateInbox } from '../migrations/inbox-migrations.js';

const USAGE = `Usage: txbox-inbox <command> [options]

Commands:
  sql       Print the inbox schema as SQL (for teams that run their own migrations)
  migrate   Apply pending inbox migrations
  status    Show the applied and the latest schema version

Options:
  --schema <name>         PostgreSQL schema (default: txbox)
  --database-url <url>    PostgreSQL URL (default: $DATABASE_URL)
  --from-version <n>      With sql: only migrations after version n
  -h, --help              Show this help`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      schema: { type: 'string', default: 'txbox' },
      'database-url': { type: 'string' },
      'from-version': { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 1;
  }
  const schema = values.schema as string;
  if (command === 'sql') {
    process.stdout.write(inboxMigrationSql({ schema, fromVersion: Number(values['from-version']) }));
    return 0;
  }
  const database = values['database-url'] ?? process.env.DATABASE_URL;
  if (!database) {
    console.error('txbox-inbox: pass --database-url or set DATABASE_URL');
    return 2;
  }
  if (command === 'migrate') {
    const status = await migrateInbox({ database, schema });
    console.log(`inbox schema "${schema}" is at version ${status.current}`);
    return 0;
  }
  if (command === 'status') {
    const status = await inboxMigrationStatus({ database, schema });
    console.log(
      `inbox schema "${schema}": applied ${status.current}, latest ${status.latest}, pending ${status.pending.length}`,
    );
    return status.current === status.latest ? 0 : 3;
  }
  console.error(`txbox-inbox: unknown command "${command}"\n\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`txbox-inbox: ${isTxboxError(error) || error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
