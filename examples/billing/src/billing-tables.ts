// The billing service's own tables: one definition for the deploy step (migrate.ts) and the
// service's tests. Idempotent, so several instances may run it at once.
import type pg from 'pg';

export async function createBillingTables(client: Pick<pg.ClientBase, 'query'>): Promise<void> {
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
}
