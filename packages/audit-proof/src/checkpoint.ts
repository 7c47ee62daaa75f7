import { AuditProofError } from './audit-proof.error.js';
import { fromBase64, toBase64 } from './bytes.js';

/** A C2SP tlog-checkpoint: origin, tree size, root hash, optional extension lines. */
export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  readonly extensions: readonly string[];
}

function fail(message: string): never {
  throw new AuditProofError('checkpoint_malformed', message);
}

/** The checkpoint's note text: `origin\nsize\nbase64(root)\n` and any extension lines. */
export function formatCheckpoint(
  checkpoint: Omit<Checkpoint, 'extensions'> & { extensions?: readonly string[] },
): string {
  if (checkpoint.origin === '' || checkpoint.origin.includes('\n'))
    fail('the origin must be one non-empty line');
  if (!Number.isSafeInteger(checkpoint.size) || checkpoint.size < 0) fail('the size must be a whole number');
  if (checkpoint.rootHash.length !== 32) fail('the root hash must be 32 bytes');
  const extensions = checkpoint.extensions ?? [];
  for (const line of extensions)
    if (line === '' || line.includes('\n')) fail('an extension is one non-empty line');
  return (
    [checkpoint.origin, String(checkpoint.size), toBase64(checkpoint.rootHash), ...extensions].join('\n') +
    '\n'
  );
}

/** Parses a checkpoint's note text strictly. */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string' || !text.endsWith('\n')) fail('a checkpoint ends with a newline');
  const [origin = '', size = '', root = '', ...extensions] = text.slice(0, -1).split('\n');
  if (origin === '') fail('the origin line is empty');
  if (!/^(0|[1-9][0-9]*)$/.test(size) || !Number.isSafeInteger(Number(size)))
    fail('the size is not a decimal number');
  let rootHash: Uint8Array;
  try {
    rootHash = fromBase64(root);
  } catch {
    fail('the root hash is not base64');
  }
  if (rootHash.length !== 32) fail('the root hash is not 32 bytes');
  if (extensions.some((line) => line === '')) fail('an extension line is empty');
  return { origin, size: Number(size), rootHash, extensions };
}
