export type { HandlerContext } from '@txbox/inbox';
export { TxboxAdmin, type TxboxStats } from './admin/txbox-admin.service.js';
export { OnMessage, type OnMessageOptions } from './decorators/on-message.decorator.js';
export { TXBOX_CONTEXT_TYPE } from './handlers/handler-discovery.js';
export { TxboxHealthIndicator, type TxboxHealthResult } from './health/txbox-health.indicator.js';
export {
  type TxboxConsumerSettings,
  type TxboxDatabaseOption,
  type TxboxGroupSettings,
  type TxboxModuleOptions,
  type TxboxWaitForBroker,
  validateModuleOptions,
} from './options/txbox-module-options.js';
export { TxboxOutbox } from './outbox/txbox-outbox.service.js';
export { nestLogger } from './runtime/nest-logger.js';
export { TxboxRuntime } from './runtime/txbox-runtime.js';
export { TxboxModule } from './txbox.module.js';
export { MODULE_OPTIONS_TOKEN as TXBOX_MODULE_OPTIONS } from './txbox.module-definition.js';
