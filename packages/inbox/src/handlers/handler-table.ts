// The handled types of one group: which handler runs for a type, and the contracts (with their
// upcasters) that validate and upcast its payloads. A wrong registration is refused at once: a
// second handler of a type, or an older contract version, would otherwise mishandle messages.
import { type AnyMessageContract, ConfigurationError, isMessageContract, MessageRegistry } from '@txbox/core';
import type { MessageHandler } from './handler.js';

export class HandlerTable {
  readonly registry = new MessageRegistry();
  readonly #handlers = new Map<string, MessageHandler>();
  readonly #group: string;

  constructor(group: string) {
    this.#group = group;
  }

  get handlers(): ReadonlyMap<string, MessageHandler> {
    return this.#handlers;
  }

  add<C extends AnyMessageContract>(contract: C, handler: MessageHandler<C>): void {
    if (!isMessageContract(contract)) throw new ConfigurationError('inbox.handlers', 'expected a message contract');
    if (typeof handler !== 'function')
      throw new ConfigurationError('inbox.handlers', `handler of ${contract.type} must be a function`);
    if (this.#handlers.has(contract.type)) {
      throw new ConfigurationError('inbox.handlers', `${contract.type} already has a handler in group ${this.#group}`);
    }
    this.registry.register(contract);
    if (this.registry.latest(contract.type) !== contract) {
      throw new ConfigurationError(
        'inbox.handlers',
        `register the newest version of ${contract.type}; handlers receive payloads upcast to it`,
      );
    }
    this.#handlers.set(contract.type, handler as MessageHandler);
  }
}
