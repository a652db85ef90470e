import type { z } from 'zod';
import { ConfigurationError, type PayloadIssue, PayloadValidationError } from '../errors/txbox-error.js';

/**
 * Per-message options accepted by `Contract.create(payload, options)` and by the outbox writer.
 */
export interface MessageOptions {
  /** Message id (UUID). Defaults to a fresh UUIDv7; pass your own to make a retried write idempotent. */
  id?: string;
  /**
   * Ordering key (for example `order:42`). Messages that share a key are published, and
   * consumed, in the order their transactions committed. Default: none (no ordering).
   */
  key?: string;
  /** Publish no earlier than this many milliseconds after commit. Default: 0. */
  delayMs?: number;
  /** Routing key on the exchange. Default: the message type. */
  routingKey?: string;
  /** Correlation id carried along a whole conversation. Default: none (the inbox sets it). */
  correlationId?: string;
  /** Id of the message that caused this one. Default: none (the inbox sets it). */
  causationId?: string;
  /** W3C trace context `traceparent`. Default: none. */
  traceparent?: string;
  /** W3C trace context `tracestate`. Default: none. */
  tracestate?: string;
  /** Extra string headers, copied to the AMQP message headers. Names starting with `x-txbox-` are reserved. */
  headers?: Record<string, string>;
}

/** A message ready to be written to the outbox: a contract, a payload, and options. */
export interface OutgoingMessage<C extends AnyMessageContract = AnyMessageContract> extends MessageOptions {
  contract: C;
  payload: z.input<C['schema']>;
}

/** How a version of a contract is derived from the previous one. */
export interface Upcaster<From extends AnyMessageContract, To extends z.ZodType> {
  /** The contract of the previous version (same type, lower version). */
  from: From;
  /** Turns a valid payload of `from` into an input for this version's schema. */
  transform: (previous: z.output<From['schema']>) => z.input<To>;
}

export interface MessageContract<
  TType extends string = string,
  TSchema extends z.ZodType = z.ZodType,
  TVersion extends number = number,
> {
  readonly kind: 'txbox.message-contract';
  /** Message type, used as the AMQP `type` property and the default routing key. */
  readonly type: TType;
  /** Positive integer; bump it when the payload shape changes incompatibly. */
  readonly version: TVersion;
  readonly schema: TSchema;
  /** Set on version > 1 contracts that can read the previous version. */
  readonly upcaster: Upcaster<AnyMessageContract, TSchema> | undefined;
  /** Builds an {@link OutgoingMessage} for the outbox writer. The payload is validated when written. */
  create(
    payload: z.input<TSchema>,
    options?: MessageOptions,
  ): OutgoingMessage<MessageContract<TType, TSchema, TVersion>>;
  /** Validates a payload, returning the parsed value or throwing {@link PayloadValidationError}. */
  parse(payload: unknown): z.output<TSchema>;
}

// biome-ignore lint/suspicious/noExplicitAny: variance escape hatch for heterogeneous contract lists
export type AnyMessageContract = MessageContract<string, any, number>;

/** The parsed payload type of a contract. */
export type PayloadOf<C extends AnyMessageContract> = z.output<C['schema']>;

const MESSAGE_TYPE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/;

export interface DefineMessageInput<
  TType extends string,
  TSchema extends z.ZodType,
  TVersion extends number,
  TFrom extends AnyMessageContract = AnyMessageContract,
> {
  type: TType;
  version: TVersion;
  schema: TSchema;
  /** Reads the previous version: `transform` receives its parsed payload, typed. */
  upcast?: Upcaster<TFrom, TSchema>;
}

/**
 * Declares a message contract: a type name, a version and a zod schema for its payload.
 *
 * @example
 * const OrderPlaced = defineMessage({
 *   type: 'orders.order-placed',
 *   version: 1,
 *   schema: z.object({ orderId: z.string(), totalCents: z.number().int() }),
 * });
 */
export function defineMessage<
  TType extends string,
  TSchema extends z.ZodType,
  TVersion extends number,
  TFrom extends AnyMessageContract = AnyMessageContract,
>(input: DefineMessageInput<TType, TSchema, TVersion, TFrom>): MessageContract<TType, TSchema, TVersion> {
  if (typeof input.type !== 'string' || !MESSAGE_TYPE.test(input.type)) {
    throw new ConfigurationError(
      'defineMessage.type',
      `${JSON.stringify(input.type)} must be 1-200 characters of letters, digits, ".", "_", "-" or ":"`,
    );
  }
  if (!Number.isSafeInteger(input.version) || input.version < 1) {
    throw new ConfigurationError('defineMessage.version', `${input.version} must be a positive integer`);
  }
  if (!input.schema || typeof (input.schema as { safeParse?: unknown }).safeParse !== 'function') {
    throw new ConfigurationError('defineMessage.schema', 'must be a zod schema');
  }
  if (input.upcast) {
    const from = input.upcast.from;
    if (from.type !== input.type || from.version >= input.version) {
      throw new ConfigurationError(
        'defineMessage.upcast.from',
        `must be an older version of ${input.type} (got ${from.type} v${from.version})`,
      );
    }
  }
  const contract: MessageContract<TType, TSchema, TVersion> = {
    kind: 'txbox.message-contract',
    type: input.type,
    version: input.version,
    schema: input.schema,
    upcaster: input.upcast as Upcaster<AnyMessageContract, TSchema> | undefined,
    create(payload, options = {}) {
      return { ...options, contract, payload };
    },
    parse(payload) {
      return parsePayload(contract, payload);
    },
  };
  return Object.freeze(contract);
}

export function isMessageContract(value: unknown): value is AnyMessageContract {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'txbox.message-contract';
}

function parsePayload<C extends AnyMessageContract>(contract: C, payload: unknown): PayloadOf<C> {
  const result = contract.schema.safeParse(payload);
  if (result.success) return result.data;
  const issues: PayloadIssue[] = result.error.issues.map((issue: z.core.$ZodIssue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  throw new PayloadValidationError(contract.type, contract.version, issues, { cause: result.error });
}
