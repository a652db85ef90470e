import { EventEmitter } from 'node:events';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { ConfigurationError, describeError, isRetryable, TxboxError } from '../errors/txbox-error.js';
import { settlesWithin } from '../lifecycle/lifecycle.js';
import { silentLogger, type TxboxLogger } from '../logger/logger.js';
import { withRetries } from '../retry/with-retries.js';
import { redactUrl } from './redact-url.js';

export interface AmqpConnectionOptions {
  /**
   * amqp:// or amqps:// URL, or the URLs of a cluster's nodes: each attempt tries them in turn,
   * from the one that last worked, so a lost node's clients reconnect to a surviving one. The
   * password never appears in logs or errors.
   */
  url: string | readonly string[];
  /** Shown in the RabbitMQ management UI. Default: `txbox`. */
  connectionName?: string;
  /** Heartbeat in seconds. Default: 15. */
  heartbeatSeconds?: number;
  /** Reconnect delay step: the n-th wait is between half and all of min(max, this × 2^(n−1)). Default: 250. */
  minReconnectDelayMs?: number;
  /** Default: 10000. */
  maxReconnectDelayMs?: number;
  logger?: TxboxLogger;
}

export interface AmqpConnectionEvents {
  connected: [];
  disconnected: [error: Error | undefined];
  blocked: [reason: string];
  unblocked: [];
}

/**
 * One AMQP connection that comes back after it is lost. `channelModel()` waits (with
 * exponential backoff, see retry/backoff.ts) until the broker is reachable, so callers simply ask
 * for a connection when they need one; `close()` aborts any wait.
 */
const AMQP_CONNECTION = Symbol.for('txbox.amqp-connection');

export class AmqpConnection extends EventEmitter<AmqpConnectionEvents> {
  /** Brand checked by {@link resolveAmqpConnection}: works across CommonJS and ESM copies. */
  readonly [AMQP_CONNECTION] = true;
  readonly #options: Required<Omit<AmqpConnectionOptions, 'logger' | 'url'>>;
  readonly #urls: readonly string[];
  /** The URL to try first: the one that last worked. */
  #current = 0;
  readonly #logger: TxboxLogger;
  readonly #abort = new AbortController();
  #model: ChannelModel | undefined;
  #connecting: Promise<ChannelModel> | undefined;
  #blocked = false;
  #closed = false;

  constructor(options: AmqpConnectionOptions) {
    super();
    this.#urls = typeof options.url === 'string' ? [options.url] : [...options.url];
    if (this.#urls.length === 0) throw new ConfigurationError('amqp', 'give at least one amqp:// URL');
    this.#options = {
      connectionName: options.connectionName ?? 'txbox',
      heartbeatSeconds: options.heartbeatSeconds ?? 15,
      minReconnectDelayMs: options.minReconnectDelayMs ?? 250,
      maxReconnectDelayMs: options.maxReconnectDelayMs ?? 10_000,
    };
    this.#logger = options.logger ?? silentLogger;
  }

  /** The URL connected to (or to be tried first), with its password hidden. */
  get safeUrl(): string {
    return redactUrl(this.#urls[this.#current] as string);
  }

  get isConnected(): boolean {
    return this.#model !== undefined;
  }

  /** True while RabbitMQ has blocked publishing on this connection (memory or disk alarm). */
  get isBlocked(): boolean {
    return this.#blocked;
  }

  /**
   * The live connection, connecting first if needed. With `retry: false` a single attempt
   * is made (useful at startup to fail fast); otherwise it retries until `close()`.
   */
  async channelModel(options: { retry?: boolean } = {}): Promise<ChannelModel> {
    if (this.#closed) throw new TxboxError('STOPPED', 'The AMQP connection was closed');
    if (this.#model) return this.#model;
    if (!this.#connecting) {
      this.#connecting = this.#connect(options.retry ?? true).finally(() => {
        this.#connecting = undefined;
      });
    }
    return this.#connecting;
  }

  /** A confirm channel; `retry: false` makes one connection attempt instead of waiting for the broker. */
  async createConfirmChannel(options: { retry?: boolean } = {}): Promise<ConfirmChannel> {
    const model = await this.channelModel(options);
    return model.createConfirmChannel();
  }

  async createChannel(options: { retry?: boolean } = {}): Promise<Channel> {
    const model = await this.channelModel(options);
    return model.createChannel();
  }

  /** Closes the connection and aborts any pending reconnect. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    const model = this.#model;
    this.#model = undefined;
    if (model) {
      // A broker that stopped answering never replies to connection.close: give it a moment,
      // then drop the socket (the broker requeues anything unacknowledged either way).
      const closed = await settlesWithin(model.close(), 2000);
      if (!closed)
        (model as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    }
  }

  async #connect(retry: boolean): Promise<ChannelModel> {
    // One attempt tries every URL once, from the one that last worked.
    const attempt = async () => {
      let last: TxboxError | undefined;
      for (let i = 0; i < this.#urls.length; i++) {
        if (this.#closed) throw new TxboxError('STOPPED', 'The AMQP connection was closed while connecting');
        const index = (this.#current + i) % this.#urls.length;
        const url = this.#urls[index] as string;
        try {
          const model = await amqp.connect(withHeartbeat(url, this.#options.heartbeatSeconds), {
            clientProperties: { connection_name: this.#options.connectionName },
          });
          this.#current = index;
          return model;
        } catch (error) {
          // Refused credentials or vhost do not fix themselves: report them at once instead of
          // retrying forever. amqplib errors can quote the URL; never let the password through.
          const refused = /ACCESS.REFUSED|NOT.ALLOWED|\b403\b|\b530\b/.test(describe(error));
          last = new TxboxError(
            'CONNECTION_FAILED',
            `Cannot connect to RabbitMQ at ${redactUrl(url)}: ${describe(error)}${refused ? ' (check the user, password and vhost)' : ''}`,
            { retryable: !refused },
          );
          if (refused) throw last;
        }
      }
      throw last as TxboxError;
    };
    const model = retry
      ? await withRetries(attempt, {
          retries: Number.POSITIVE_INFINITY,
          baseDelayMs: this.#options.minReconnectDelayMs,
          maxDelayMs: this.#options.maxReconnectDelayMs,
          signal: this.#abort.signal,
          isRetryable,
          onFailedAttempt: (error, attemptNumber) => {
            this.#logger.warn('RabbitMQ connection attempt failed; retrying', {
              attempt: attemptNumber,
              error: describe(error),
            });
          },
        }).catch((error: unknown) => {
          if (this.#closed) throw new TxboxError('STOPPED', 'The AMQP connection was closed while connecting');
          throw error;
        })
      : await attempt();
    if (this.#closed) {
      await model.close().catch(() => {});
      throw new TxboxError('STOPPED', 'The AMQP connection was closed while connecting');
    }
    this.#attach(model);
    return model;
  }

  #attach(model: ChannelModel): void {
    this.#model = model;
    this.#blocked = false;
    model.on('error', (error: Error) => {
      // 'close' follows; logging here keeps the broker's reason (e.g. a forced close).
      this.#logger.warn('RabbitMQ connection error', { error: error.message });
    });
    model.on('close', (error?: Error) => {
      if (this.#model === model) this.#model = undefined;
      this.#blocked = false;
      if (!this.#closed) {
        this.#logger.warn('RabbitMQ connection lost; will reconnect on next use', { error: error?.message });
        this.emit('disconnected', error);
      }
    });
    model.on('blocked', (reason: string) => {
      this.#blocked = true;
      this.#logger.warn('RabbitMQ blocked the connection', { reason });
      this.emit('blocked', reason);
    });
    model.on('unblocked', () => {
      this.#blocked = false;
      this.#logger.info('RabbitMQ unblocked the connection');
      this.emit('unblocked');
    });
    this.#logger.info('Connected to RabbitMQ', { url: this.safeUrl });
    this.emit('connected');
  }
}

function withHeartbeat(url: string, seconds: number): string {
  try {
    const parsed = new URL(url);
    // An explicit heartbeat in the URL wins.
    if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', String(seconds));
    return parsed.toString();
  } catch {
    return url;
  }
}

/** amqplib errors can quote the URL: never let the password through. */
function describe(error: unknown): string {
  return redactUrl(describeError(error));
}

/**
 * Accepts what a relay or consumer was given as `amqp`: a URL or a list of a cluster's URLs (a
 * connection it owns and closes) or a shared {@link AmqpConnection} (borrowed, never closed by it).
 */
export function resolveAmqpConnection(
  input: unknown,
  options: { option: string; connectionName: string; logger?: TxboxLogger },
): { connection: AmqpConnection; owned: boolean } {
  const isUrl = (value: unknown): value is string => typeof value === 'string' && /^amqps?:\/\//.test(value);
  if (Array.isArray(input) && input.length > 0 && input.every(isUrl)) {
    return {
      connection: new AmqpConnection({ url: input, connectionName: options.connectionName, logger: options.logger }),
      owned: true,
    };
  }
  if (isUrl(input)) {
    return {
      connection: new AmqpConnection({ url: input, connectionName: options.connectionName, logger: options.logger }),
      owned: true,
    };
  }
  if (typeof input === 'object' && input !== null && (input as Record<symbol, unknown>)[AMQP_CONNECTION] === true) {
    return { connection: input as AmqpConnection, owned: false };
  }
  throw new ConfigurationError(
    options.option,
    'expected an amqp:// or amqps:// URL, a list of them (the nodes of a cluster) or an AmqpConnection',
  );
}
