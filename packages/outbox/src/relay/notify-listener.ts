import type { TxboxLogger } from '@txbox/core';
import { backoffDelayMs } from '@txbox/core/internal';
import pg from 'pg';

/**
 * LISTENs on a dedicated connection (never a pooled one: a pooled client would be handed
 * to others and its LISTEN lost) and calls `onWake` for every notification. The
 * connection is re-established with growing delays after any loss; each reconnect also
 * wakes the relay, since notifications sent while disconnected are gone. NOTIFY only
 * shortens latency: the relay's poll interval remains the correctness backstop.
 */
/** LISTEN reconnects: 0.5 s, 1 s, 2 s … up to 30 s (a database restart takes seconds). */
const LISTEN_BACKOFF = { baseDelayMs: 500, maxDelayMs: 30_000 };

export class NotifyListener {
  readonly #config: pg.ClientConfig;
  readonly #channel: string;
  readonly #onWake: () => void;
  readonly #logger: TxboxLogger;
  #client: pg.Client | undefined;
  #stopped = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #failures = 0;

  constructor(options: { clientConfig: pg.ClientConfig; channel: string; onWake: () => void; logger: TxboxLogger }) {
    this.#config = options.clientConfig;
    this.#channel = options.channel;
    this.#onWake = options.onWake;
    this.#logger = options.logger;
  }

  get isListening(): boolean {
    return this.#client !== undefined;
  }

  /** Connects and LISTENs; on failure keeps retrying in the background. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const client = new pg.Client({ ...this.#config, application_name: 'txbox-outbox-listener' });
    const lost = (error?: Error) => {
      if (this.#client !== client && this.#client !== undefined) return;
      this.#client = undefined;
      client.removeAllListeners('notification');
      client.end().catch(() => {});
      if (!this.#stopped) {
        this.#logger.warn('Outbox LISTEN connection lost; reconnecting', { error: error?.message });
        this.#scheduleReconnect();
      }
    };
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      await client.query(`LISTEN "${this.#channel.replaceAll('"', '""')}"`);
    } catch (error) {
      client.removeAllListeners('end');
      client.end().catch(() => {});
      if (!this.#stopped) {
        this.#logger.warn('Cannot LISTEN for outbox notifications; polling until it works', {
          error: (error as Error).message,
        });
        this.#scheduleReconnect();
      }
      return;
    }
    if (this.#stopped) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#failures = 0;
    client.on('notification', () => this.#onWake());
    this.#onWake();
  }

  #scheduleReconnect(): void {
    if (this.#retryTimer || this.#stopped) return;
    this.#failures += 1;
    const delay = backoffDelayMs(this.#failures, LISTEN_BACKOFF);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#connect();
    }, delay);
    this.#retryTimer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const client = this.#client;
    this.#client = undefined;
    if (client) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
    }
  }
}
