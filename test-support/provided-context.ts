// Values the integration project's globalSetup hands to test files through `inject`.
declare module 'vitest' {
  export interface ProvidedContext {
    /** PostgreSQL URL the integration tests use (a testcontainers one when globalSetup started it). */
    txboxDatabaseUrl: string;
    /** RabbitMQ URL the integration tests use (a testcontainers one when globalSetup started it). */
    txboxAmqpUrl: string;
  }
}

export {};
