// What a handler is and receives: the types users write handlers against, the registration
// helper, and the error that skips retries. The consumer depends on these shapes; users never
// see how the consumer runs them.

import type {
  AnyMessageContract,
  Envelope,
  MessageOptions,
  OutgoingMessage,
  PayloadOf,
  SessionFactory,
  Transaction,
} from '@txbox/core';
import { activeTracer } from '@txbox/core/internal';
import type pg from 'pg';

/** The outbox, bound to the handler's transaction: what it adds commits with the handler. */
export interface BoundOutbox {
  /**
   * Adds messages in the handler's transaction. `causationId` defaults to the consumed
   * message's id and `correlationId` to its correlation id (or its id).
   */
  add(message: OutgoingMessage): Promise<string>;
  add(messages: readonly OutgoingMessage[]): Promise<string[]>;
}

/** A TypeORM EntityManager, typed structurally so this package does not import TypeORM. */
export type EntityManagerLike = object;

/** What a handler receives besides the payload. */
export interface HandlerContext<P = unknown, Tx = unknown> {
  /** The decoded message; `payload` is validated (and upcast to the newest version). */
  envelope: Envelope<P>;
  /** The consumer group handling it. */
  group: string;
  /** 1 on the first delivery, then 2, 3... after retries through the delay queues. */
  attempt: number;
  /**
   * A `pg` client inside the handler's transaction (the inbox record is in it too). With an ORM
   * `session` the ORM owns the connection: use `tx` (reading `client` then throws, saying so).
   */
  client: pg.PoolClient;
  /**
   * A TypeORM `EntityManager` on the same transaction, when the consumer was given a
   * `dataSource`; otherwise undefined.
   */
  manager: EntityManagerLike | undefined;
  /** The same transaction as a txbox {@link Transaction}. */
  transaction: Transaction;
  /** The outbox bound to this transaction (requires the consumer's `outbox` option). */
  outbox: BoundOutbox;
  /**
   * The transaction in the consumer's own terms: the ORM's transaction with a `session` from
   * `@txbox/orm/*` (a Prisma transaction client, a Drizzle/Kysely/Knex `tx`, a MikroORM fork), the
   * TypeORM `EntityManager` with `dataSource`, else the pg client. Type it with the adapter's
   * helper type, e.g. `HandlerContext<Payload, PrismaTransactionOf<typeof prisma>>`.
   */
  tx: Tx;
}

export type MessageHandler<C extends AnyMessageContract = AnyMessageContract, Tx = unknown> = (
  payload: PayloadOf<C>,
  context: HandlerContext<PayloadOf<C>, Tx>,
) => Promise<void> | void;

export interface HandlerRegistration<C extends AnyMessageContract = AnyMessageContract> {
  contract: C;
  handle: MessageHandler<C>;
}

/**
 * Pairs a contract with its handler, for the consumer's `handlers` option. With an ORM session,
 * name the transaction type to type `ctx.tx`: `defineHandler<typeof OrderPlaced, Tx>(…)`, or use
 * {@link handlersFor}.
 */
export function defineHandler<C extends AnyMessageContract, Tx = unknown>(
  contract: C,
  handle: MessageHandler<C, Tx>,
): HandlerRegistration<C> {
  return { contract, handle: handle as MessageHandler<C> };
}

/**
 * `defineHandler` with `ctx.tx` typed as the session's transaction:
 * `const on = handlersFor(session); on(OrderPlaced, async (payload, ctx) => ctx.tx.order.create(…))`.
 */
export function handlersFor<Tx>(
  _session: SessionFactory<Tx>,
): <C extends AnyMessageContract>(contract: C, handle: MessageHandler<C, Tx>) => HandlerRegistration<C> {
  return (contract, handle) => defineHandler(contract, handle);
}

/** Options a bound outbox fills in from the consumed message. */
export function causedBy(envelope: Envelope, message: OutgoingMessage): OutgoingMessage {
  const carried: MessageOptions = {
    causationId: message.causationId ?? envelope.id,
    correlationId: message.correlationId ?? envelope.correlationId ?? envelope.id,
  };
  // With a tracer registered the handler runs in a process span, and the writer makes the new
  // message a child of it; without one, the trace context travels on unchanged.
  if (!activeTracer()) {
    if (envelope.traceparent && !message.traceparent) carried.traceparent = envelope.traceparent;
    if (envelope.tracestate && !message.tracestate) carried.tracestate = envelope.tracestate;
  }
  return { ...message, ...carried };
}
