import type { OutgoingMessage } from '../contracts/define-message.js';

/**
 * What the inbox needs of an outbox writer: add messages inside a transaction the caller holds
 * (a handler's transaction, so what it sends commits with its effects). `OutboxWriter` from
 * `@txbox/outbox` satisfies it; the inbox depends on this shape, not on the outbox package, so a
 * consumer-only service does not install the relay.
 */
export interface OutboxPort {
  add(tx: unknown, message: OutgoingMessage): Promise<string>;
  add(tx: unknown, messages: readonly OutgoingMessage[]): Promise<string[]>;
}
