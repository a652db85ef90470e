// Deploy step: brings the billing database to the current schema. Safe to run from several
// instances at once (txbox serializes its migrations on an advisory lock; the domain DDL is
// idempotent), and then the service itself starts without DDL rights if you like.
import { migrateInbox } from '@txbox/inbox';
import { migrateOutbox } from '@txbox/outbox';
import pg from 'pg';
import { readBillingSettings } from './settings.js';

const { databaseUrl } = readBillingSettings();

await migrateOutbox({ database: databaseUrl }); // schema "txbox": outbox + dead letters
await migrateInbox({ database: databaseUrl }); // schema "txbox": inbox

const client = new pg.Client({ connectionString: databaseUrl });
await client.connect();
try {
  await client.query(`
    CREATE TABLE IF NOT EXISTS payments (
      id                   uuid PRIMARY KEY,
      -- No UNIQUE (order_id), on purpose: the demo counts rows to show that the inbox alone
      -- prevents a double charge. A production table would add it as a second line of defence.
      order_id             uuid NOT NULL,
      status               text NOT NULL CHECK (status IN ('charged', 'declined')),
      amount_cents         integer NOT NULL,
      currency             text NOT NULL,
      reason               text,
      -- The OrderPlaced message this payment answers, and the version it was written with.
      order_event_id       uuid NOT NULL,
      order_event_version  integer NOT NULL,
      created_at           timestamptz NOT NULL DEFAULT now()
    )`);
} finally {
  await client.end();
}
console.log('billing: migrated');
