// `txbox-outbox wal-slot create|drop`: the slot of WAL mode, for operators and deploy scripts.
import { parseArgs } from 'node:util';
import { redactUrl } from '@txbox/core';
import { describeError } from '@txbox/core/internal';
import { createWalSlot, dropWalSlot } from './wal-slot.js';

const USAGE = `Usage: txbox-outbox wal-slot <create|drop> [options]

  create    Create the replication slot and its publication of WAL mode (idempotent)
  drop      Drop them (idempotent; refused while a relay streams the slot)

Options:
  --schema <name>         PostgreSQL schema of the outbox (default: txbox)
  --slot <name>           Slot name (default: txbox_<schema>)
  --database-url <url>    PostgreSQL URL (default: $DATABASE_URL)`;

/** Exit codes: 0 ok, 1 error, 2 usage. */
export async function runWalSlotCli(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    console.error(`txbox-outbox wal-slot: ${describeError(error)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (command !== 'create' && command !== 'drop') {
    console.error(USAGE);
    return 2;
  }
  const database = values['database-url'] ?? process.env.DATABASE_URL;
  if (!database) {
    console.error('txbox-outbox wal-slot: pass --database-url or set DATABASE_URL');
    return 2;
  }
  const options = { database, schema: values.schema, slot: values.slot };
  try {
    const changed = command === 'create' ? await createWalSlot(options) : await dropWalSlot(options);
    console.log(`wal-slot ${command}: ${changed ? 'done' : 'nothing to do'}`);
    return 0;
  } catch (error) {
    console.error(`txbox-outbox wal-slot ${command} on ${redactUrl(database)}: ${describeError(error)}`);
    return 1;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      schema: { type: 'string', default: 'txbox' },
      slot: { type: 'string' },
      'database-url': { type: 'string' },
    },
  });
}
