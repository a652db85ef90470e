#!/usr/bin/env node
// The `txbox` binary.
import { runCli } from './cli/run-cli.js';

runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
