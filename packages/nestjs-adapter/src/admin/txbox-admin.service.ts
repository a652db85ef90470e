import { Inject, Injectable } from '@nestjs/common';
import type { InboxStats } from '@txbox/inbox';
import type { DeadLetter, OutboxStats } from '@txbox/outbox';
import { TxboxRuntime } from '../runtime/txbox-runtime.js';

export interface TxboxStats {
  outbox: OutboxStats;
  consumers: InboxStats[];
}

/**
 * Operations for an admin endpoint or a script. txbox mounts no HTTP routes: expose what you
 * need behind your own guards.
 */
@Injectable()
export class TxboxAdmin {
  constructor(@Inject(TxboxRuntime) private readonly runtime: TxboxRuntime) {}

  async stats(): Promise<TxboxStats> {
    const consumers = await Promise.all([...this.runtime.consumers.values()].map((c) => c.stats()));
    const outbox = await this.runtime.outboxAdmin.stats();
    return { outbox, consumers };
  }

  /** Outbox messages that could not be published. */
  listDeadLetters(options: { type?: string; limit?: number; offset?: number } = {}): Promise<DeadLetter[]> {
    return this.runtime.outboxAdmin.deadLetters.list(options);
  }

  /** Puts outbox dead letters back, with their ids, due now. */
  requeueDeadLetters(ids: string[]): Promise<string[]> {
    return this.runtime.outboxAdmin.deadLetters.requeue(ids);
  }

  purgeDeadLetters(ids: string[] | 'all'): Promise<number> {
    return this.runtime.outboxAdmin.deadLetters.purge(ids);
  }
}
