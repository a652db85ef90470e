import { Inject, Injectable } from '@nestjs/common';
import {
  createInboxAdmin,
  type InboxAdmin,
  type InboxDeadLetter,
  type InboxDeadLetterFilter,
  type InboxStats,
  type ReplayResult,
} from '@txbox/inbox';
import type { DeadLetter, DeadLetterFilter, DeadLetterPage, OutboxStats } from '@txbox/outbox';
import { TxboxRuntime } from '../runtime/txbox-runtime.js';

export interface TxboxStats {
  outbox: OutboxStats;
  consumers: InboxStats[];
}

/**
 * Operations for an admin endpoint or a script, over the same admin API as the `txbox` CLI
 * (`OutboxAdmin`, `InboxAdmin`). txbox mounts no HTTP routes: expose what you need behind your
 * own guards.
 */
@Injectable()
export class TxboxAdmin {
  #inbox: InboxAdmin | undefined;

  constructor(@Inject(TxboxRuntime) private readonly runtime: TxboxRuntime) {}

  async stats(): Promise<TxboxStats> {
    const consumers = await Promise.all([...this.runtime.consumers.values()].map((c) => c.stats()));
    const outbox = await this.runtime.outboxAdmin.stats();
    return { outbox, consumers };
  }

  /** Outbox messages that could not be published, filtered by ids, type, key or time range. */
  listDeadLetters(options: DeadLetterFilter & DeadLetterPage = {}): Promise<DeadLetter[]> {
    return this.runtime.outboxAdmin.deadLetters.list(options);
  }

  /** Puts outbox dead letters (ids, or a filter) back, with their ids, due now. */
  requeueDeadLetters(selection: string[] | DeadLetterFilter): Promise<string[]> {
    return this.runtime.outboxAdmin.deadLetters.requeue(selection);
  }

  purgeDeadLetters(selection: string[] | DeadLetterFilter | 'all'): Promise<number> {
    return this.runtime.outboxAdmin.deadLetters.purge(selection);
  }

  /** Messages in a consumer group's dead-letter queue (they stay there). */
  listInboxDeadLetters(group: string, filter: InboxDeadLetterFilter = {}): Promise<InboxDeadLetter[]> {
    return this.#inboxAdmin().deadLetters.list(this.#groupRef(group), filter);
  }

  /** Moves dead-lettered messages back to that group's queue only (other groups do not see them). */
  replayInboxDeadLetters(group: string, selection: string[] | InboxDeadLetterFilter): Promise<ReplayResult> {
    return this.#inboxAdmin().deadLetters.replay(this.#groupRef(group), selection);
  }

  purgeInboxDeadLetters(group: string, selection: string[] | InboxDeadLetterFilter | 'all'): Promise<number> {
    return this.#inboxAdmin().deadLetters.purge(this.#groupRef(group), selection);
  }

  /** Forgets that `group` processed message `id`: its next delivery runs the handler again. */
  async forgetInboxRecord(group: string, id: string): Promise<boolean> {
    // The group's inbox may live in a database of its own: an admin on that pool, borrowed.
    const admin = createInboxAdmin({
      database: this.runtime.databaseOfGroup(group).database,
      schema: this.runtime.schema,
    });
    return admin.forget(group, id);
  }

  /** The dead-letter queues, on the module's AMQP connection (borrowed: nothing of its own to close). */
  #inboxAdmin(): InboxAdmin {
    this.#inbox ??= createInboxAdmin({
      ...(this.runtime.amqp ? { amqp: this.runtime.amqp } : {}),
      schema: this.runtime.schema,
    });
    return this.#inbox;
  }

  /** A group this module consumes is addressed with the queue names it was configured with. */
  #groupRef(group: string) {
    const consumer = this.runtime.consumers.get(group);
    if (!consumer) return group;
    const { queue, deadLetterQueue } = consumer.topology;
    return { group, names: { queue, deadLetterQueue } };
  }
}
