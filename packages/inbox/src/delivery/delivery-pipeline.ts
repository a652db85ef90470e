// The path of a group of deliveries that intake handed over together: triage each, run the ready
// ones in one transaction, then settle each. When a batch transaction fails as a whole, each ready
// delivery is run again on its own (not triaged again: its verdict cannot have changed).
import type { Settlement } from '../settlement/settlement.js';
import { type Delivery, type ReadyDelivery, type TriageRules, triage } from '../triage/triage.js';
import type { Outcome, TransactionRunner } from './transaction-runner.js';

export interface DeliveryPipelineOptions {
  rules: TriageRules;
  runner: TransactionRunner;
  settlement: Settlement;
}

export class DeliveryPipeline {
  readonly #o: DeliveryPipelineOptions;

  constructor(options: DeliveryPipelineOptions) {
    this.#o = options;
  }

  async process(deliveries: readonly Delivery[]): Promise<void> {
    const ready: ReadyDelivery[] = [];
    for (const delivery of deliveries) {
      try {
        const result = triage(delivery, this.#o.rules);
        if (result.kind === 'ready') ready.push(result.delivery);
        else await this.#o.settlement.settleUntriaged(delivery, result);
      } catch (error) {
        this.#o.settlement.settleFailed(delivery, error);
      }
    }
    await this.#runAndSettle(ready);
  }

  async #runAndSettle(items: readonly ReadyDelivery[]): Promise<void> {
    // A delivery whose channel died while it waited has been requeued by the broker already.
    const live = items.filter((item) => this.#o.rules.isCurrent(item.channel));
    if (live.length === 0) return;
    const started = performance.now();
    let outcomes: Outcome[] | undefined;
    try {
      outcomes = await this.#o.runner.run(live);
    } catch (error) {
      for (const item of live) this.#o.settlement.settleFailed(item, error);
      return;
    }
    if (!outcomes) {
      for (const item of live) await this.#runAndSettle([item]);
      return;
    }
    const perMessageMs = (performance.now() - started) / live.length;
    for (const [i, item] of live.entries()) {
      try {
        await this.#o.settlement.settle(item, outcomes[i] as Outcome, perMessageMs);
      } catch (error) {
        this.#o.settlement.settleFailed(item, error);
      }
    }
  }
}
