// The writer's WAL path: one transactional logical message per outbox message, in the caller's
// transaction. PostgreSQL decodes it at commit, in commit order, and never if the transaction
// rolls back; it writes no table row, no index entry and takes no lock.
import type { Transaction } from '@txbox/core';
import { statementName } from '@txbox/core/internal';
import { emitMessageSql, emitMessagesSql } from '../sql/wal-sql.js';
import type { WriterRow } from '../writer/outbox-writer.js';
import { encodeWalMessage, walMessagePrefix } from './wal-message.js';

const ONE = { text: emitMessageSql(), name: statementName(emitMessageSql()) };
const MANY = { text: emitMessagesSql(), name: statementName(emitMessagesSql()) };

/** Emits `rows` in one statement; the messages are decoded in array order. */
export async function emitWalMessages(
  transaction: Transaction,
  schema: string,
  rows: readonly WriterRow[],
  prepared: boolean,
): Promise<void> {
  const prefix = walMessagePrefix(schema);
  const [statement, content] =
    rows.length === 1 ? [ONE, encodeWalMessage(rows[0] as WriterRow)] : [MANY, rows.map(encodeWalMessage)];
  await transaction.query(statement.text, [prefix, content], prepared ? { name: statement.name } : {});
}
