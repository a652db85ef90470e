#!/usr/bin/env node
import { runMigrationCli } from '@txbox/core/internal';
import { outboxMigrations } from '../migrations/outbox-migrations.js';
import { runWalSlotCli } from '../wal/wal-slot-cli.js';

const [command, ...rest] = process.argv.slice(2);
const run = command === 'wal-slot' ? runWalSlotCli(rest) : runMigrationCli(outboxMigrations, process.argv.slice(2));
run.then((code) => {
  process.exitCode = code;
});
