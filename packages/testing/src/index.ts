// The public surface of @txbox/testing: helpers for users' own tests, against their real
// PostgreSQL (and RabbitMQ for drainOutbox).
export { type DeliverOptions, type DeliverResult, deliver } from './inbox/deliver.js';
export { type DrainOutboxOptions, drainOutbox, type PublishedMessage } from './outbox/drain-outbox.js';
export {
  assertOutboxWrites,
  type ExpectedMessage,
  outboxWrites,
  type WrittenMessage,
} from './outbox/outbox-writes.js';
