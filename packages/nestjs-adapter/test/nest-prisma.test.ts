import { TransactionalAdapterPrisma } from '@nestjs-cls/transactional-adapter-prisma';
import { PrismaPg } from '@prisma/adapter-pg';
import { prismaSession } from '@txbox/orm/prisma';
import { loadPrismaClient, type TestPrismaTransaction } from '../../orm/test/prisma/prisma-client.js';
import { describeNestOrm, ORM_CLIENT } from './orm/describe-nest-orm.js';

describeNestOrm('prisma', {
  async open(databaseUrl, schema) {
    // The client of the @txbox/orm tests' schema (its `effect` model is the `effects` table).
    const PrismaClient = await loadPrismaClient();
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl, max: 4 }, { schema }) });
    return {
      client: prisma,
      adapter: new TransactionalAdapterPrisma({ prismaInjectionToken: ORM_CLIENT }),
      session: prismaSession(prisma as never),
      writeEffect: async (tx, orderId) => {
        await (tx as TestPrismaTransaction).effect.create({ data: { message_id: orderId, info: 'nest prisma' } });
      },
      close: () => prisma.$disconnect(),
    };
  },
});
