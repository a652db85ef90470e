import { PrismaPg } from '@prisma/adapter-pg';
import { fromPrisma, type PrismaTransactionOf, prismaSession } from '@txbox/orm/prisma';
import { runCompat } from './common/run';
import { PrismaClient } from './generated/client';

void runCompat<PrismaTransactionOf<PrismaClient>>(async ({ databaseUrl, schema }) => {
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl, max: 4 }, { schema }) });
  return {
    transaction: async (fn) => {
      await prisma.$transaction(fn);
    },
    adapt: (tx) => fromPrisma(tx),
    session: prismaSession(prisma),
    insert: async (tx, table, orderId) => {
      if (table === 'orders') await tx.order.create({ data: { order_id: orderId } });
      else await tx.effect.create({ data: { order_id: orderId } });
    },
    close: () => prisma.$disconnect(),
  };
});
