export { type RunningChild, runChild } from './child-process.js';
export {
  DEFAULT_AMQP_URL,
  DEFAULT_DATABASE_URL,
  testAmqpUrl,
  testDatabaseUrl,
  withoutPassword,
} from './service-urls.js';
export { type MessageCollector, type TestAmqp, useAmqp } from './test-amqp.js';
export { type TestSchema, useTestSchema } from './test-schema.js';
export { uniqueName } from './unique-name.js';
