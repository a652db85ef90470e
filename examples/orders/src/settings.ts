// Everything the orders service reads from its environment. The demo orchestrator imports this
// module too (`@txbox-examples/orders/settings`), so it cleans up exactly the queues declared here.

/** The consumer group of this service's @OnMessage handlers (TxboxModule's defaultGroup). */
export const ORDERS_GROUP = 'orders';

/** Retry steps of a failing handler (one delay queue each), then the dead-letter queue. */
export const ORDERS_RETRY_DELAYS_MS = [250, 1000, 5000];

export interface OrdersSettings {
  /** The orders service's own database (database per service). */
  databaseUrl: string;
  amqpUrl: string;
  /** Topic exchange shared by the services. */
  exchange: string;
  /** HTTP port on 127.0.0.1; 0 picks a free one (printed at startup). */
  port: number;
  /** Stop when standard input closes (the demo runs the service as a child process). */
  exitWithParent: boolean;
}

export function readOrdersSettings(env: NodeJS.ProcessEnv = process.env): OrdersSettings {
  const port = Number(env.PORT || 0);
  if (!Number.isSafeInteger(port) || port < 0 || port > 65_535)
    throw new Error(`PORT must be a port number, got "${env.PORT}"`);
  return {
    databaseUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/txbox_demo_orders',
    amqpUrl: env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672',
    exchange: env.EXCHANGE || 'txbox.events',
    port,
    exitWithParent: env.EXIT_WITH_PARENT === '1',
  };
}
