// Message contracts alone: what a package of shared event definitions imports. Depends on zod
// and nothing else (no AMQP or PostgreSQL client), so a contracts package stays light for every
// service that uses it. The same names are exported from '@txbox/core'.
export {
  type AnyMessageContract,
  type DefineMessageInput,
  defineMessage,
  isMessageContract,
  type MessageContract,
  type MessageOptions,
  type OutgoingMessage,
  type PayloadOf,
  type Upcaster,
} from './contracts/define-message.js';
export { MessageRegistry, type ResolvedPayload } from './contracts/message-registry.js';
export {
  ConfigurationError,
  isTxboxError,
  type PayloadIssue,
  PayloadValidationError,
  TxboxError,
  type TxboxErrorCode,
  UnknownContractError,
} from './errors/txbox-error.js';
