import { NotInTransactionError, toTransaction } from '@txbox/core';
import { fromDrizzle } from '@txbox/orm/drizzle';
import { fromKnex } from '@txbox/orm/knex';
import { fromKysely } from '@txbox/orm/kysely';
import { fromMikroOrm } from '@txbox/orm/mikro-orm';
import { fromPrisma } from '@txbox/orm/prisma';
import { drizzle } from 'drizzle-orm/node-postgres';
import knexFactory from 'knex';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { toKnexBindings } from '../src/shared/knex-bindings.js';

// Never connected: building these ORMs opens no connection.
const pool = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
const knex = knexFactory({ client: 'pg', connection: 'postgres://nobody@127.0.0.1:1/none' });
const kysely = new Kysely<Record<string, never>>({ dialect: new PostgresDialect({ pool }) });
const db = drizzle(pool);
afterAll(async () => {
  await knex.destroy();
  await kysely.destroy();
});

describe('Knex placeholders', () => {
  it('rewrites $n to ?, binding each occurrence (a reused $n is bound again)', () => {
    expect(toKnexBindings('SELECT $1, $2 WHERE x = $1 AND y = $10', ['a', 'b', 3, 4, 5, 6, 7, 8, 9, 'j'])).toEqual({
      sql: 'SELECT ?, ? WHERE x = ? AND y = ?',
      bindings: ['a', 'b', 'a', 'j'],
    });
  });

  it('leaves a ? of the statement itself (jsonb operators) to PostgreSQL', async () => {
    const { sql, bindings } = toKnexBindings("SELECT $1::jsonb ? 'a' AS has", ['{"a":1}']);
    expect(sql).toBe("SELECT ?::jsonb \\? 'a' AS has");
    expect(
      knex
        .raw(sql, bindings as string[])
        .toSQL()
        .toNative().sql,
    ).toBe("SELECT $1::jsonb ? 'a' AS has");
  });
});

describe('each adapter refuses what is not a transaction, saying what to pass', () => {
  it.each([
    ['fromPrisma', () => fromPrisma(null as never), /fromPrisma\(\) was given null/],
    ['fromDrizzle', () => fromDrizzle(db as never), /the Drizzle database itself.*db\.transaction/],
    ['fromKysely', () => fromKysely(kysely as never), /the Kysely instance itself.*db\.transaction\(\)\.execute/],
    ['fromKnex', () => fromKnex(knex as never), /the Knex instance itself.*knex\.transaction/],
    [
      'fromMikroOrm',
      () => fromMikroOrm({ getTransactionContext: () => undefined } as never),
      /outside a transaction.*em\.transactional/,
    ],
    [
      'fromPrisma (client)',
      () => fromPrisma({ $queryRawUnsafe() {}, $connect() {} } as never),
      /the PrismaClient itself/,
    ],
  ])('%s', (_name, adapt, message) => {
    expect(adapt).toThrow(NotInTransactionError);
    expect(adapt).toThrow(message);
  });
});

describe('outbox.add given an ORM handle unwrapped names its adapter', () => {
  it.each([
    ['Knex', knex, 'fromKnex'],
    ['Kysely', kysely, 'fromKysely'],
    ['Drizzle', db, 'fromDrizzle'],
    ['Prisma', { $executeRawUnsafe() {}, $queryRawUnsafe() {} }, 'fromPrisma'],
    ['MikroORM', { getTransactionContext() {}, fork() {} }, 'fromMikroOrm'],
  ])('%s', (_name, handle, adapter) => {
    expect(() => toTransaction(handle)).toThrow(NotInTransactionError);
    expect(() => toTransaction(handle)).toThrow(`${adapter} from @txbox/orm/`);
  });
});
