#!/usr/bin/env node
import { runCli } from './cli/run-cli.js';

const abort = new AbortController();
process.once('SIGINT', () => {
  abort.abort();
});
process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  signal: abort.signal,
});
