#!/usr/bin/env node
import { runMigrationCli } from '@txbox/core';
import { inboxMigrations } from '../migrations/inbox-migrations.js';

runMigrationCli(inboxMigrations, process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
