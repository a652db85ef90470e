// The writer's WAL path: one transactional logical message per outbox message, in the caller's
// transaction. PostgreSQL decodes it at commit, in commit order, and never if the transaction
// rolls back; it writes no table row, no index entry and takes no lock.
import type { Transaction } from '@txbox/core';
import { statementName } from '@txbox/core/internal';
import { emitMessagesSql } from '../sql/wal-sql.js';
import type { WriterRow } from '../writer/outbox-writer.js';
import { encodeWalMessage, walMessagePrefix } from './wal-message.js';

const TEXT = emitMessagesSql();
const NAME = statementName(TEXT);

/** Emits `rows` in one statement; the messages are decoded in array order. */
export async function emitWalMessages(
  transaction: Transaction,
  schema: string,
  rows: readonly WriterRow[],
  prepared: boolean,
): Promise<void> {
  await transaction.query(TEXT, [walMessagePrefix(schema), rows.map(encodeWalMessage)], prepared ? { name: NAME } : {});
}
