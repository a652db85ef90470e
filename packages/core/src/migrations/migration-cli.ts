import { parseArgs } from 'node:util';
import { withDedicatedClient } from '../database/database-input.js';
import { describeError } from '../errors/txbox-error.js';
import { exportMigrationSql, type MigrationSet, migrate, migrationStatus } from './migration-runner.js';

/**
 * The `txbox-<component>` command line: `sql`, `migrate`, `status`. Returns the exit code
 * (0 ok, 1 error, 2 usage, 3 migrations pending).
 */
export async function runMigrationCli(set: MigrationSet, argv: string[]): Promise<number> {
  const name = `txbox-${set.component}`;
  const usage = `Usage: ${name} <command> [options]

Commands:
  sql       Print the ${set.component} schema as SQL (for teams that run their own migrations)
  migrate   Apply pending ${set.component} migrations
  status    Show the applied and the latest schema version (exit code 3 while pending)

Options:
  --schema <name>         PostgreSQL schema (default: txbox)
  --database-url <url>    PostgreSQL URL (default: $DATABASE_URL)
  --from-version <n>      With sql: only migrations after version n
  -h, --help              Show this help`;
  try {
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
      console.log(usage);
      return values.help ? 0 : 2;
    }
    const schema = values.schema as string;
    if (command === 'sql') {
      process.stdout.write(exportMigrationSql(set, schema, Number(values['from-version'])));
      return 0;
    }
    if (command !== 'migrate' && command !== 'status') {
      console.error(`${name}: unknown command "${command}"\n\n${usage}`);
      return 2;
    }
    const database = values['database-url'] ?? process.env.DATABASE_URL;
    if (!database) {
      console.error(`${name}: pass --database-url or set DATABASE_URL`);
      return 2;
    }
    if (command === 'migrate') {
      const status = await withDedicatedClient(database, (client) => migrate(client, set, schema));
      console.log(`${set.component} schema "${schema}" is at version ${status.current}`);
      return 0;
    }
    const status = await withDedicatedClient(database, (client) => migrationStatus(client, set, schema));
    console.log(
      `${set.component} schema "${schema}": applied ${status.current}, latest ${status.latest}, pending ${status.pending.length}`,
    );
    return status.current === status.latest ? 0 : 3;
  } catch (error) {
    console.error(`${name}: ${describeError(error)}`);
    return 1;
  }
}
