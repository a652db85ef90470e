// A CommonJS Nest application as a user writes one (require, no decorator syntax needed):
// TxboxModule with a relay and an @OnMessage consumer. Prints READY once listening; how it
// stops on SIGTERM is chosen by SHUTDOWN:
//   hooks    app.enableShutdownHooks(), as the README shows: Nest closes the app, then re-raises
//            the signal, so the process ends by SIGTERM (status 143 to a shell or orchestrator);
//   exit-0   its own SIGTERM handler: await app.close(), then process.exit(0).
// A failed start is reported as the README's main.ts does: the message, exit 1.
require('reflect-metadata');
const { Injectable, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { defineMessage } = require('@txbox/core');
const { OnMessage, TxboxModule } = require('@txbox/nestjs');
const { z } = require('zod');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const Pinged = defineMessage({ type: 'shutdown.pinged', version: 1, schema: z.object({ n: z.number() }) });

class PingHandlers {
  async onPing() {}
}
Injectable()(PingHandlers);
const descriptor = Object.getOwnPropertyDescriptor(PingHandlers.prototype, 'onPing');
OnMessage(Pinged, { group: env('GROUP') })(PingHandlers.prototype, 'onPing', descriptor);

class AppModule {}
Module({
  imports: [
    TxboxModule.forRoot({
      contracts: [Pinged],
      amqpUrl: env('AMQP_URL'),
      database: { url: env('DATABASE_URL') },
      schema: env('SCHEMA'),
      exchange: env('EXCHANGE'),
    }),
  ],
  providers: [PingHandlers],
})(AppModule);

async function main() {
  const app = await NestFactory.create(AppModule, { logger: ['log', 'error', 'warn'] });
  if (process.env.SHUTDOWN === 'exit-0') {
    process.once('SIGTERM', () => {
      app.close().then(
        () => process.exit(0),
        (error) => {
          console.error(error);
          process.exit(1);
        },
      );
    });
  } else {
    app.enableShutdownHooks();
  }
  await app.listen(0, '127.0.0.1');
  process.stdout.write('READY\n');
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
