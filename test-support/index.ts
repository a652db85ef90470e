export { type ChildExit, type RunningChild, runChild } from './child-process.mjs';
export { type Cleanup, useCleanup } from './cleanup.js';
export { CleanupStack } from './cleanup-stack.mjs';
export { closedPort } from './closed-port.js';
export {
  DEFAULT_AMQP_URL,
  DEFAULT_DATABASE_URL,
  testAmqpUrl,
  testDatabaseUrl,
  withoutPassword,
} from './service-urls.js';
export { type MessageCollector, type TestAmqp, useAmqp } from './test-amqp.js';
export { type TestSchema, useTestSchema } from './test-schema.js';
export { type ConsumerTopologyNames, deleteTopology, type TopologyNames } from './topology.mjs';
export { uniqueName } from './unique-name.js';
export { sleep, type WaitOptions, waitUntil, withDeadline } from './wait.mjs';
