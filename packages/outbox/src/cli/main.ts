#!/usr/bin/env node
import { runMigrationCli } from '@txbox/core/internal';
import { outboxMigrations } from '../migrations/outbox-migrations.js';

runMigrationCli(outboxMigrations, process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
