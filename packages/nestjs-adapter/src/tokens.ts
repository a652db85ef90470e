/** Injection token of the resolved runtime (writer, relay, consumers). */
export const TXBOX_RUNTIME = Symbol.for('txbox.nestjs.runtime');
/** Metadata key set by @OnMessage on handler methods. */
export const ON_MESSAGE_METADATA = 'txbox:on-message';
