import {
  type AnyMessageContract,
  ConfigurationError,
  InvalidMessageError,
  isMessageContract,
  isReservedHeader,
  MessageRegistry,
  newMessageId,
  type OutgoingMessage,
  PayloadTooLargeError,
  type Transaction,
  TxboxError,
  toTransaction,
  UnknownContractError,
} from '@txbox/core';
import {
  isUuid,
  messageBytesSchema,
  parseOptions,
  statementName,
  traceCreate,
  validateAmqpName,
  validateRoutingKey,
} from '@txbox/core/internal';
import { z } from 'zod';
import { insertMessagesSql } from '../sql/outbox-sql.js';
import { type OutboxTables, outboxTables } from '../sql/outbox-tables.js';
import { emitWalMessages } from '../wal/wal-writer.js';
import { JsonbTextSize } from './jsonb-text-size.js';

export interface OutboxWriterOptions {
  /** The contracts this writer may write (a list or a registry). Anything else is refused. */
  contracts: Iterable<AnyMessageContract> | MessageRegistry;
  /** PostgreSQL schema of the outbox tables. @defaultValue `'txbox'` */
  schema?: string;
  /** Durable topic exchange messages are published to. @defaultValue `'txbox.events'` */
  exchange?: string;
  /**
   * Largest payload accepted by `add`, in bytes as the relay publishes it (PostgreSQL's jsonb text:
   * a space after each ':' and ',', numbers in decimal notation). The consumer's `maxMessageBytes`
   * has the same default, so what one accepts the other does. @defaultValue `262144` (256 KiB)
   */
  maxPayloadBytes?: number;
  /**
   * Wake a sleeping relay at commit (NOTIFY) instead of at its next poll. Skipped while a relay
   * is awake (it found messages within its `awakeMs` and polls every `awakePollMs`), since
   * PostgreSQL serializes the commits of notifying transactions: under load writers do not pay
   * for it. `false`: never notify (relays find rows at their poll interval).
   * @defaultValue `true`
   */
  notify?: boolean;
  /**
   * Run the insert as a named prepared statement on `pg` clients (parsed and planned once per
   * connection: about twice the write throughput). Turn off behind PgBouncer in transaction
   * mode older than 1.21, which cannot route prepared statements.
   * @defaultValue `true`
   */
  preparedStatements?: boolean;
  /**
   * `'table'`: insert a row the relay claims (works everywhere). `'wal'`: write only a
   * transactional logical message to the write-ahead log, which a `WalRelay` reads from a
   * replication slot (needs `wal_level = logical`; see the README's "WAL mode"). Every writer
   * and relay of one schema must use the same mode.
   * @defaultValue `'table'`
   */
  mode?: 'table' | 'wal';
}

const optionsSchema = z.object({
  schema: z.string().default('txbox'),
  exchange: z.string().default('txbox.events'),
  maxPayloadBytes: messageBytesSchema,
  notify: z.boolean().default(true),
  preparedStatements: z.boolean().default(true),
  mode: z.enum(['table', 'wal']).default('table'),
});

/** Longest delay accepted: a year. Longer is almost certainly a unit mistake. */
const MAX_DELAY_MS = 365 * 24 * 3600 * 1000;
const MAX_KEY_LENGTH = 512;
const MAX_HEADERS_BYTES = 16 * 1024;
/** 13 parameters per message; PostgreSQL allows 65,535 per statement. */
const MAX_ROWS_PER_STATEMENT = 5000;

/** A validated message as the writer stores it (a table row, or a WAL message's content). */
export interface WriterRow {
  id: string;
  type: string;
  version: number;
  ordering_key: string | null;
  exchange: string;
  routing_key: string;
  payloadJson: string;
  headers: Record<string, string>;
  correlation_id: string | null;
  causation_id: string | null;
  traceparent: string | null;
  tracestate: string | null;
  delay_ms: number;
}

/**
 * Writes messages into the outbox inside the caller's transaction: they are published if,
 * and only if, that transaction commits.
 */
export class OutboxWriter {
  readonly registry: MessageRegistry;
  readonly exchange: string;
  readonly #tables: OutboxTables;
  readonly #maxPayloadBytes: number;
  readonly #notify: boolean;
  /** Statement text and prepared name per (rows, keyed) — few distinct shapes in practice. */
  readonly #statements = new Map<string, { text: string; name: string | undefined }>();
  readonly #prepared: boolean;
  readonly #mode: 'table' | 'wal';

  constructor(options: OutboxWriterOptions) {
    const resolved = parseOptions(optionsSchema, options, 'outbox');
    if (!options?.contracts) {
      throw new ConfigurationError('outbox.contracts', 'list the message contracts this writer may write');
    }
    this.registry =
      options.contracts instanceof MessageRegistry ? options.contracts : new MessageRegistry(options.contracts);
    this.#tables = outboxTables(resolved.schema);
    this.exchange = validateAmqpName('exchange name', resolved.exchange);
    this.#maxPayloadBytes = resolved.maxPayloadBytes;
    this.#notify = resolved.notify;
    this.#prepared = resolved.preparedStatements;
    this.#mode = resolved.mode;
  }

  /**
   * Validates every message, then writes them all in one statement, in the caller's
   * transaction. Nothing is written unless every message is valid.
   *
   * @param tx a `pg` client after BEGIN, the `EntityManager` of a TypeORM transaction, or a
   *   txbox `Transaction`. A pool, a DataSource or `dataSource.manager` is refused.
   * @returns the message id (or ids, for an array), in order.
   */
  async add(tx: unknown, message: OutgoingMessage): Promise<string>;
  async add(tx: unknown, messages: readonly OutgoingMessage[]): Promise<string[]>;
  async add(tx: unknown, input: OutgoingMessage | readonly OutgoingMessage[]): Promise<string | string[]> {
    const transaction = toTransaction(tx);
    const messages = Array.isArray(input) ? input : [input as OutgoingMessage];
    const rows = messages.map((m, index) => this.#toRow(m, index, messages.length));
    traceCreate(rows);
    if (rows.length > 0) {
      transaction.assertActive();
      if (this.#mode === 'wal') {
        await emitWalMessages(transaction, this.#tables.schema, rows, this.#prepared);
      } else {
        for (let start = 0; start < rows.length; start += MAX_ROWS_PER_STATEMENT) {
          await this.#insert(transaction, rows.slice(start, start + MAX_ROWS_PER_STATEMENT));
        }
      }
    }
    const ids = rows.map((r) => r.id);
    return Array.isArray(input) ? ids : (ids[0] as string);
  }

  async #insert(transaction: Transaction, rows: WriterRow[]): Promise<void> {
    const keys = [...new Set(rows.map((r) => r.ordering_key).filter((k): k is string => k !== null))].sort();
    const shape = `${rows.length}:${keys.length > 0}`;
    let statement = this.#statements.get(shape);
    if (!statement) {
      const text = insertMessagesSql(this.#tables, rows.length, { lockKeys: keys.length > 0, notify: this.#notify });
      // Only small batches are prepared: one-off shapes would pile up in every connection.
      statement = { text, name: this.#prepared && rows.length <= 16 ? statementName(text) : undefined };
      if (this.#statements.size < 64) this.#statements.set(shape, statement);
    }
    const values: unknown[] = [];
    for (const r of rows) {
      values.push(
        r.id,
        r.type,
        r.version,
        r.ordering_key,
        r.exchange,
        r.routing_key,
        r.payloadJson,
        JSON.stringify(r.headers),
        r.correlation_id,
        r.causation_id,
        r.traceparent,
        r.tracestate,
        r.delay_ms,
      );
    }
    if (keys.length > 0) values.push(keys);
    if (this.#notify) values.push(this.#tables.notifyChannelName);
    try {
      await transaction.query(statement.text, values, statement.name ? { name: statement.name } : {});
    } catch (error) {
      throw this.#explain(error);
    }
  }

  /** A schema older than this writer fails on the first insert: say so, and what to run. */
  #explain(error: unknown): unknown {
    const e = error as { code?: string; message?: string };
    if (e?.code !== '42P01' || !String(e.message).includes('outbox')) return error;
    return new TxboxError(
      'SCHEMA_NOT_MIGRATED',
      `The outbox tables in schema "${this.#tables.schema}" are missing or older than this writer (${String(e.message)}): ` +
        'run migrateOutbox() (or the txbox-outbox migrate CLI) before writing',
      { cause: error },
    );
  }

  #toRow(message: OutgoingMessage, index: number, count: number): WriterRow {
    const at = count > 1 ? ` (message ${index})` : '';
    if (!message || typeof message !== 'object' || !isMessageContract(message.contract)) {
      throw new InvalidMessageError(
        `contract${at}`,
        'expected a message built with Contract.create(payload) or { contract, payload }',
      );
    }
    const contract = message.contract;
    if (!this.registry.has(contract)) {
      throw new UnknownContractError(
        contract.type,
        contract.version,
        `Contract ${contract.type} v${contract.version} is not registered with this outbox; add it to the "contracts" option`,
      );
    }
    const payload = contract.parse(message.payload);
    const { json: payloadJson, publishedBytes: size } = toStorableJson(payload, `payload${at}`);
    if (size > this.#maxPayloadBytes) throw new PayloadTooLargeError(contract.type, size, this.#maxPayloadBytes);

    const id = message.id ?? newMessageId();
    if (!isUuid(id)) throw new InvalidMessageError(`id${at}`, `${JSON.stringify(id)} is not a UUID`);
    const key = message.key ?? null;
    if (key !== null && (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH)) {
      throw new InvalidMessageError(`key${at}`, `must be a non-empty string of at most ${MAX_KEY_LENGTH} characters`);
    }
    if (key !== null) assertStorableText(key, `key${at}`);
    const delayMs = message.delayMs ?? 0;
    if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0 || delayMs > MAX_DELAY_MS) {
      throw new InvalidMessageError(`delayMs${at}`, 'must be a number of milliseconds from 0 to one year');
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(message.headers ?? {})) {
      if (isReservedHeader(name)) {
        throw new InvalidMessageError(
          `headers${at}`,
          `"${name}" is reserved by txbox; use the message options (key, correlationId, traceparent...) instead`,
        );
      }
      if (typeof value !== 'string') {
        throw new InvalidMessageError(`headers${at}`, `"${name}" must have a string value`);
      }
      assertStorableText(name, `headers${at}`);
      assertStorableText(value, `headers${at}`);
      headers[name] = value;
    }
    // AMQP encodes all headers in one table that amqplib caps at 64 KiB with our own headers
    // included: refuse here, with a clear error, what the relay could never publish.
    if (Buffer.byteLength(JSON.stringify(headers)) > MAX_HEADERS_BYTES) {
      throw new InvalidMessageError(`headers${at}`, `must total at most ${MAX_HEADERS_BYTES} bytes`);
    }
    return {
      id,
      type: contract.type,
      version: contract.version,
      ordering_key: key,
      exchange: this.exchange,
      routing_key: validateRoutingKey('routing key', message.routingKey ?? contract.type),
      payloadJson,
      headers,
      correlation_id: optionalText(message.correlationId, `correlationId${at}`),
      causation_id: optionalText(message.causationId, `causationId${at}`),
      traceparent: optionalText(message.traceparent, `traceparent${at}`),
      tracestate: optionalText(message.tracestate, `tracestate${at}`),
      delay_ms: Math.round(delayMs),
    };
  }
}

function optionalText(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > 1024) {
    throw new InvalidMessageError(field, 'must be a string of at most 1024 characters');
  }
  assertStorableText(value, field);
  return value;
}

/** PostgreSQL text and jsonb cannot hold a NUL character or an unpaired UTF-16 surrogate. */
function isStorableText(value: string): boolean {
  return !value.includes('\u0000') && (value as string & { isWellFormed(): boolean }).isWellFormed();
}

function assertStorableText(value: string, field: string): void {
  if (!isStorableText(value)) {
    throw new InvalidMessageError(
      field,
      'contains a NUL character or an unpaired UTF-16 surrogate, which PostgreSQL cannot store',
    );
  }
}

/**
 * JSON text PostgreSQL will store as jsonb, or a typed error. Refusing here, before any SQL,
 * matters: a value jsonb rejects would fail the INSERT and so abort the caller's transaction.
 */
function toStorableJson(value: unknown, field: string): { json: string; publishedBytes: number } {
  let json: string | undefined;
  const size = new JsonbTextSize();
  try {
    // The replacer sees every key and value once, on the way.
    json = JSON.stringify(value, function (this: object, key, item) {
      assertStorableText(key, field);
      if (typeof item === 'string') assertStorableText(item, field);
      size.visit(this, key, item);
      return item;
    });
  } catch (cause) {
    if (cause instanceof InvalidMessageError) throw cause;
    // BigInt values and circular structures.
    throw new InvalidMessageError(field, `is not JSON-serializable (${(cause as Error).message})`);
  }
  if (json === undefined) throw new InvalidMessageError(field, 'must be JSON-serializable');
  return { json, publishedBytes: size.total(Buffer.byteLength(json, 'utf8')) };
}

/** Creates an {@link OutboxWriter}. */
export function createOutbox(options: OutboxWriterOptions): OutboxWriter {
  return new OutboxWriter(options);
}
