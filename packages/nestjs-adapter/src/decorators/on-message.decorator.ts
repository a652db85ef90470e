import type { AnyMessageContract } from '@txbox/core';
import { ON_MESSAGE_METADATA } from '../tokens.js';

/** reflect-metadata's API, when loaded (Nest applications load it). */
const reflect = Reflect as unknown as {
  getMetadata?: (key: string, target: object) => unknown;
  defineMetadata?: (key: string, value: unknown, target: object) => void;
};

export interface OnMessageOptions {
  /** Consumer group (one queue, one dedup scope). @defaultValue the module's `defaultGroup` */
  group?: string;
}

export interface OnMessageMetadata {
  contract: AnyMessageContract;
  group: string | undefined;
}

/**
 * Marks a provider method as the handler of a message contract. It only records metadata
 * (read when the application bootstraps), so it works under any TypeScript transform. The
 * method receives the validated payload and the inbox context: `ctx.manager` (TypeORM
 * EntityManager on the inbox transaction), `ctx.envelope`, `ctx.outbox`, `ctx.client`.
 *
 * @example
 * \@OnMessage(OrderPlaced, { group: 'billing' })
 * async charge(order: PayloadOf<typeof OrderPlaced>, ctx: HandlerContext) { ... }
 */
export function OnMessage(contract: AnyMessageContract, options: OnMessageOptions = {}): MethodDecorator {
  return (_target, _key, descriptor: PropertyDescriptor) => {
    const method = descriptor.value as object;
    const existing = readOnMessageMetadata(method);
    const entry: OnMessageMetadata = { contract, group: options.group };
    if (reflect.defineMetadata) {
      reflect.defineMetadata(ON_MESSAGE_METADATA, [...existing, entry], method);
    } else {
      // Without reflect-metadata loaded, keep the metadata on the function itself.
      (method as Record<string, unknown>)[ON_MESSAGE_METADATA] = [...existing, entry];
    }
    return descriptor;
  };
}

export function readOnMessageMetadata(method: unknown): OnMessageMetadata[] {
  if (typeof method !== 'function') return [];
  const fromReflect = reflect.getMetadata?.(ON_MESSAGE_METADATA, method);
  return (fromReflect ??
    (method as unknown as Record<string, unknown>)[ON_MESSAGE_METADATA] ??
    []) as OnMessageMetadata[];
}
