// Deploy step: brings the billing database to the current schema. Safe to run from several
// instances at once (txbox serializes its migrations on an advisory lock; the domain DDL is
// idempotent), and then the service itself starts without DDL rights if you like.
import { migrateInbox } from '@txbox/inbox';
import { migrateOutbox } from '@txbox/outbox';
import pg from 'pg';
import { createBillingTables } from './billing-tables.js';
import { readBillingSettings } from './settings.js';

const { databaseUrl } = readBillingSettings();

await migrateOutbox({ database: databaseUrl }); // schema "txbox": outbox + dead letters
await migrateInbox({ database: databaseUrl }); // schema "txbox": inbox

const client = new pg.Client({ connectionString: databaseUrl });
await client.connect();
try {
  await createBillingTables(client);
} finally {
  await client.end();
}
console.log('billing: migrated');
