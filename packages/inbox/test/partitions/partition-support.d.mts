import type { MessageContract, TxboxLogger } from '@txbox/core';
import type { InboxConsumer } from '@txbox/inbox';
import type pg from 'pg';
import type { z } from 'zod';

export const KeyedStep: MessageContract<
  'partitions.keyed-step',
  z.ZodObject<{ key: z.ZodString; seq: z.ZodNumber }>,
  1
>;
export function appliedTable(schema: string): string;
export function createAppliedTable(pool: pg.Pool, schema: string): Promise<void>;
export function partitionedConsumer(o: {
  group: string;
  database: string;
  amqp: string;
  schema: string;
  exchange: string;
  instance: string;
  partitions: number;
  pauseMs?: number;
  logger?: TxboxLogger;
}): InboxConsumer;
