// Builds what a handler receives and runs it inside the delivery's transaction. The context's
// client, manager, transaction and bound outbox are all the one session, so everything the
// handler writes commits (or rolls back) together with the inbox record.
import { ConfigurationError, type Envelope, type OutboxPort, type OutgoingMessage } from '@txbox/core';
import type pg from 'pg';
import type { HandlerSession } from '../database/handler-session.js';
import type { ReadyDelivery } from '../triage/triage.js';
import { type BoundOutbox, causedBy, type HandlerContext } from './handler.js';

export async function runHandler(
  session: HandlerSession,
  item: ReadyDelivery,
  consumer: { group: string; outbox: OutboxPort | undefined },
): Promise<void> {
  const { typed: envelope, handler, attempt } = item;
  const context: HandlerContext = {
    envelope,
    group: consumer.group,
    attempt,
    client: session.client ?? (undefined as unknown as pg.PoolClient),
    manager: session.manager,
    transaction: session.transaction,
    outbox: bindOutbox(session, envelope, consumer.outbox),
    tx: session.tx,
  };
  if (!session.client) {
    // An ORM session: its connection is the ORM's. Fail loudly rather than hand out undefined.
    const driver = session.driver;
    Object.defineProperty(context, 'client', {
      get() {
        throw new ConfigurationError(
          'inbox.session',
          `ctx.client is a pg client, which a ${driver} session does not have: use ctx.tx (the ${driver} transaction) or ctx.transaction`,
        );
      },
    });
  }
  await handler(envelope.payload as never, context as never);
}

function bindOutbox(session: HandlerSession, envelope: Envelope, writer: OutboxPort | undefined): BoundOutbox {
  const add = (input: OutgoingMessage | readonly OutgoingMessage[]) => {
    if (!writer) {
      throw new ConfigurationError('inbox.outbox', 'pass an outbox writer to the consumer to use context.outbox');
    }
    if (Array.isArray(input)) {
      return writer.add(
        session.transaction,
        input.map((m) => causedBy(envelope, m)),
      );
    }
    return writer.add(session.transaction, causedBy(envelope, input as OutgoingMessage));
  };
  return { add } as BoundOutbox;
}
