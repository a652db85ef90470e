import { Inject, Injectable } from '@nestjs/common';
import { TxboxRuntime } from '../runtime/txbox-runtime.js';

/** `@nestjs/terminus`'s indicator result shape: `{ [key]: { status, ...details } }`. */
export type TxboxHealthResult = Record<string, { status: 'up' | 'down'; [detail: string]: unknown }>;

/**
 * A health indicator for `@nestjs/terminus` (no import of terminus needed: it returns
 * terminus's result shape). Down when the broker connection is lost, the relay lags more
 * than `health.maxLagMs`, or outbox dead letters exceed `health.maxDeadLetters`.
 *
 * @example
 * \@Get('health') \@HealthCheck()
 * check() { return this.health.check([() => this.txbox.isHealthy('txbox')]); }
 */
@Injectable()
export class TxboxHealthIndicator {
  constructor(@Inject(TxboxRuntime) private readonly runtime: TxboxRuntime) {}

  async isHealthy(key = 'txbox'): Promise<TxboxHealthResult> {
    const { health = {} } = this.runtime.options;
    const maxLagMs = health.maxLagMs ?? 30_000;
    const maxDeadLetters = health.maxDeadLetters ?? null;
    const problems: string[] = [];
    const details: Record<string, unknown> = {};
    const amqp = this.runtime.amqp;
    if (amqp) {
      details.broker = amqp.isConnected ? (amqp.isBlocked ? 'blocked' : 'connected') : 'disconnected';
      if (!amqp.isConnected) problems.push('broker connection lost');
      if (amqp.isBlocked) problems.push('broker blocked publishing (resource alarm)');
    }
    try {
      const stats = await this.#outboxStats();
      details.outboxLagMs = stats.oldestDueAgeMs;
      details.outboxPending = stats.pending;
      details.outboxDeadLetters = stats.deadLetters;
      if (stats.oldestDueAgeMs > maxLagMs) problems.push(`relay lag ${stats.oldestDueAgeMs} ms > ${maxLagMs} ms`);
      if (maxDeadLetters !== null && stats.deadLetters > maxDeadLetters) {
        problems.push(`${stats.deadLetters} outbox dead letters > ${maxDeadLetters}`);
      }
    } catch (error) {
      problems.push(`database: ${(error as Error).message}`);
    }
    details.consumers = Object.fromEntries([...this.runtime.consumers.entries()].map(([g, c]) => [g, c.isRunning]));
    if (problems.length > 0) return { [key]: { status: 'down', problems, ...details } };
    return { [key]: { status: 'up', ...details } };
  }

  /** Over every database txbox relays from (a consumer group may have its own): the worst lag, the sums. */
  async #outboxStats() {
    const all = await Promise.all(this.runtime.outboxAdmins.map(({ admin }) => admin.stats()));
    return {
      oldestDueAgeMs: Math.max(0, ...all.map((s) => s.oldestDueAgeMs)),
      pending: all.reduce((sum, s) => sum + s.pending, 0),
      deadLetters: all.reduce((sum, s) => sum + s.deadLetters, 0),
    };
  }
}
