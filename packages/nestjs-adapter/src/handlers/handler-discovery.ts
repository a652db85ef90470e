// Finds the @OnMessage methods of the application and turns each into an inbox handler that
// Nest runs the way it runs a controller method: through ExternalContextCreator (as
// @golevelup/nestjs-rabbitmq does), so the method's and its class's guards, interceptors and
// exception filters apply, with `context.getType() === 'txbox'` and `context.getArgs()` being
// `[payload, ctx]`.
import type { DiscoveryService, ExternalContextCreator, MetadataScanner } from '@nestjs/core';
import { ConfigurationError } from '@txbox/core';
import type { HandlerContext } from '@txbox/inbox';
import { readOnMessageMetadata } from '../decorators/on-message.decorator.js';

/** What `ExecutionContext.getType()` returns inside guards, interceptors and filters of a handler. */
export const TXBOX_CONTEXT_TYPE = 'txbox';

export interface DiscoveredHandler {
  group: string;
  contract: ReturnType<typeof readOnMessageMetadata>[number]['contract'];
  /** `Class.method`, for messages. */
  where: string;
  /** Runs the method with Nest's enhancers. */
  invoke: (payload: unknown, ctx: HandlerContext) => Promise<void>;
}

/**
 * Every @OnMessage method on the application's providers and controllers. A method on a
 * request-scoped (or otherwise non-static) provider is refused: there is no request to build
 * its instance for, and skipping it would leave its messages unhandled without a word.
 */
export function discoverHandlers(options: {
  discovery: DiscoveryService;
  scanner: MetadataScanner;
  contextCreator: ExternalContextCreator;
  defaultGroup: string | undefined;
}): DiscoveredHandler[] {
  const found: DiscoveredHandler[] = [];
  const seen = new Set<string>();
  const wrappers = [...options.discovery.getProviders(), ...options.discovery.getControllers()];
  for (const wrapper of wrappers) {
    const metatype = wrapper.metatype as { prototype?: unknown; name?: string } | null | undefined;
    const instance = wrapper.instance as Record<string, unknown> | undefined;
    const prototype =
      instance && typeof instance === 'object' ? Object.getPrototypeOf(instance) : (metatype?.prototype ?? undefined);
    if (!prototype || typeof prototype !== 'object') continue;
    for (const name of options.scanner.getAllMethodNames(prototype)) {
      const metadata = readOnMessageMetadata((prototype as Record<string, unknown>)[name]);
      if (metadata.length === 0) continue;
      const className = (prototype as { constructor?: { name?: string } }).constructor?.name ?? String(metatype?.name);
      const where = `${className}.${name}`;
      if (!wrapper.isDependencyTreeStatic() || !instance) {
        throw new ConfigurationError(
          'OnMessage',
          `${where} is on a request-scoped provider (or one that depends on one): txbox calls handlers outside any request, so it cannot build that instance. Make ${className} a singleton (the default scope) and move request-scoped dependencies out of it`,
        );
      }
      for (const meta of metadata) {
        const group = meta.group ?? options.defaultGroup;
        if (!group) {
          throw new ConfigurationError(
            'TxboxModule.defaultGroup',
            `@OnMessage(${meta.contract.type}) on ${where} names no group; pass { group } or set defaultGroup`,
          );
        }
        const id = `${group}/${meta.contract.type}`;
        if (seen.has(id)) {
          throw new ConfigurationError(
            'OnMessage',
            `${meta.contract.type} has two handlers in group ${group} (${where})`,
          );
        }
        seen.add(id);
        const method = instance[name] as (...args: unknown[]) => unknown;
        const run = options.contextCreator.create(
          instance as never,
          method,
          name,
          undefined,
          undefined,
          undefined,
          undefined,
          { guards: true, interceptors: true, filters: true },
          TXBOX_CONTEXT_TYPE,
        );
        found.push({
          group,
          contract: meta.contract,
          where,
          invoke: async (payload, ctx) => {
            await run(payload, ctx);
          },
        });
      }
    }
  }
  return found;
}
