import { readFile } from 'node:fs/promises';

import { verifyReceiptProof, type Receipt, type VerifyOptions } from '@aibox/audit-proof';

import { CliError } from './cli.error.js';
import type { CliIo } from './commands.js';

export interface VerifyFiles {
  /** `GET /v1/receipts/{turn_id}/proof` saved as JSON. */
  readonly proof: string;
  /** `GET /v1/audit/keys` saved as JSON. */
  readonly keys: string;
  /** The previous turn's receipt, to check the chain link. */
  readonly prev?: string;
  /** An older checkpoint (`GET /v1/audit/checkpoint` saved earlier), to check the log only grew. */
  readonly checkpoint?: string;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error: unknown) {
    throw new CliError(
      'usage',
      `cannot read the ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`,
    );
  }
}

async function readJson(path: string, what: string): Promise<unknown> {
  const text = await readText(path, what);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliError('usage', `the ${what} ${path} is not JSON`);
  }
}

/**
 * `aibox verify`: checks a receipt proof offline against the audit keys — every event hash and inclusion, the
 * envelope hash, its place in the tenant log, the signed checkpoint, and with `--prev` / `--checkpoint` the
 * chain link and the log's consistency. Prints what passed; on the first failure prints `FAILED <code>:
 * <message>` and returns 1. Unreadable or non-JSON inputs are usage errors (2).
 */
export async function verifyCommand(files: VerifyFiles, io: CliIo): Promise<number> {
  const proof = await readJson(files.proof, 'proof');
  const keys = await readJson(files.keys, 'keys file');
  const options: { prev?: Receipt; checkpoint?: string } = {};
  if (files.prev !== undefined) options.prev = (await readJson(files.prev, 'previous receipt')) as Receipt;
  if (files.checkpoint !== undefined) options.checkpoint = await readText(files.checkpoint, 'checkpoint');
  const report = await verifyReceiptProof(proof, keys, options satisfies VerifyOptions);
  for (const check of report.checks) io.out(`ok  ${check}`);
  if (!report.ok) {
    io.err(`FAILED ${report.failure.code}: ${report.failure.message}`);
    return 1;
  }
  io.out('verified');
  return 0;
}
