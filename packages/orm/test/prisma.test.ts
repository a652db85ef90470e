import { PrismaPg } from '@prisma/adapter-pg';
import { fromPrisma, prismaSession } from '@txbox/orm/prisma';
import pg from 'pg';
import { describeAdapterGuarantees } from './adapter-guarantees.js';
import { loadPrismaClient, type TestPrismaTransaction } from './prisma/prisma-client.js';

describeAdapterGuarantees<TestPrismaTransaction>('prisma', {
  async open(databaseUrl, schema) {
    const PrismaClient = await loadPrismaClient();
    // Prisma models need a primary key; the shared effects table has none of its own.
    const setup = new pg.Client({ connectionString: databaseUrl });
    await setup.connect();
    await setup.query(`ALTER TABLE "${schema}".effects ADD COLUMN IF NOT EXISTS id bigserial PRIMARY KEY`);
    await setup.end();
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl, max: 4 }, { schema }) });
    return {
      adapt: (tx) => fromPrisma(tx),
      transaction: (fn) => prisma.$transaction(fn),
      client: prisma,
      session: prismaSession(prisma),
      writeEffect: async (tx, _table, id) => {
        await tx.effect.create({ data: { message_id: id, info: 'prisma' } });
      },
      close: () => prisma.$disconnect(),
    };
  },
});
