// Found by the chaos suite: outbox.add() with a payload JSON cannot carry (BigInt, circular) or jsonb
// cannot store (NUL, unpaired surrogate) refuses with a typed MESSAGE_INVALID before sending anything:
// no raw TypeError, no PostgreSQL error that aborts the caller's transaction, nothing written.
import { defineMessage } from '@txbox/core';
import { createOutbox, migrateOutbox } from '@txbox/outbox';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { useTestSchema } from '../../../test-support/index.js';

const { schema, pool, databaseUrl } = useTestSchema('outbox_non_json');
const Anything = defineMessage({ type: 'regress.anything', version: 1, schema: z.any() });
const Text = defineMessage({ type: 'regress.text', version: 1, schema: z.object({ s: z.string() }) });
const outbox = createOutbox({ contracts: [Anything, Text], schema });

beforeAll(async () => {
  await migrateOutbox({ database: databaseUrl, schema });
});

const circular: Record<string, unknown> = {};
circular.self = circular;

describe('outbox.add refuses payloads that cannot be stored as JSON', () => {
  it.each([
    ['a BigInt', Anything.create({ n: 10n })],
    ['a circular structure', Anything.create(circular)],
    ['a NUL character', Text.create({ s: 'a\u0000b' })],
    ['an unpaired surrogate', Text.create({ s: 'x\ud800y' })],
  ])('%s: typed MESSAGE_INVALID, the caller transaction stays usable, nothing written', async (_what, message) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const error = await outbox.add(client, message).then(
        () => undefined,
        (e: unknown) => e as { code?: string; name?: string },
      );
      expect(error?.code).toBe('MESSAGE_INVALID');
      await expect(client.query('SELECT 1')).resolves.toBeTruthy();
      await client.query('COMMIT');
    } finally {
      // A failed expectation must not hand an aborted transaction back to the pool.
      await client.query('ROLLBACK').catch(() => {});
      client.release();
    }
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".outbox`);
    expect(rows[0].n).toBe(0);
  });

  it('still accepts valid pairs and escaped text that only looks like an escape, and stores them exactly', async () => {
    const client = await pool.connect();
    let ids: string[];
    try {
      await client.query('BEGIN');
      ids = await outbox.add(client, [
        Text.create({ s: 'emoji 😀' }, { headers: { note: 'pair 😀' } }),
        Text.create({ s: 'literal \\u0000 text' }, { headers: { note: 'literal \\u0000 header' } }),
      ]);
      await client.query('COMMIT');
    } finally {
      await client.query('ROLLBACK').catch(() => {});
      client.release();
    }
    // Read back as text too: jsonb must hold the characters written, not a decoded escape.
    const { rows } = await pool.query(
      `SELECT id::text, type, payload, headers, payload->>'s' AS s, headers->>'note' AS note
         FROM "${schema}".outbox ORDER BY seq`,
    );
    expect(rows).toEqual([
      {
        id: ids[0],
        type: 'regress.text',
        payload: { s: 'emoji 😀' },
        headers: { note: 'pair 😀' },
        s: 'emoji 😀',
        note: 'pair 😀',
      },
      {
        id: ids[1],
        type: 'regress.text',
        payload: { s: 'literal \\u0000 text' },
        headers: { note: 'literal \\u0000 header' },
        s: 'literal \\u0000 text',
        note: 'literal \\u0000 header',
      },
    ]);
    await pool.query(`DELETE FROM "${schema}".outbox`);
  });
});
