import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { TxboxAdmin } from '@txbox/nestjs';
import { AppModule } from './app.module.js';
import { readOrdersSettings } from './settings.js';

const settings = readOrdersSettings();
const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
await app.listen(settings.port, '127.0.0.1');
const { port } = app.getHttpServer().address() as AddressInfo;
report('ready', { url: `http://127.0.0.1:${port}` });

// Stats as one JSON line on stdout every 200 ms: a stand-in for a metrics endpoint.
const admin = app.get(TxboxAdmin);
const statsTimer = setInterval(() => void reportStats(), 200);

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(statsTimer);
  await reportStats();
  // What app.enableShutdownHooks() would do: TxboxModule stops its consumers, then the relay,
  // before TypeORM closes the DataSource.
  await app.close();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
if (settings.exitWithParent) process.stdin.on('end', () => void shutdown()).resume();

async function reportStats(): Promise<void> {
  try {
    const { outbox, consumers } = await admin.stats();
    report('stats', { consumer: consumers[0], outbox });
  } catch {
    // The database is briefly unreachable: the next tick reports.
  }
}

function report(event: string, data: object): void {
  process.stdout.write(`@demo ${JSON.stringify({ service: 'orders', event, ...data })}\n`);
}
