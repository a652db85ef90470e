import { defineMessage } from '@txbox/core';
import { z } from 'zod';

export const OrderPlaced = defineMessage({
  type: 'compat.order-placed',
  version: 1,
  schema: z.object({ orderId: z.string(), totalCents: z.number().int().positive() }),
});
