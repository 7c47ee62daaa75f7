import {
  AuditProofError,
  noteVerifiersFromJwks,
  parseCheckpoint,
  parseNote,
  verifyNote,
  type NoteVerifier,
} from '@aibox/audit-proof';

/**
 * The browser as a witness of the audit log: the largest signed checkpoint it has verified a receipt
 * against, per log origin, kept in `localStorage` so that every later receipt also proves the log only grew
 * since then (`verifyReceiptProof`'s `options.checkpoint`, as `aibox verify --checkpoint` does).
 */

/** One item per log origin (`aibox.local/audit/acme`, say), holding the signed checkpoint's note text. */
const STORAGE_PREFIX = 'aibox.audit-checkpoint:';

/** A signed checkpoint this browser remembers: its note as the proof carried it, with its origin and size. */
export interface RememberedCheckpoint {
  readonly origin: string;
  readonly size: number;
  readonly note: string;
}

/** The origin and size a signed checkpoint names (its signatures unchecked), if it is one. */
export function checkpointOf(note: string): RememberedCheckpoint | undefined {
  try {
    const { origin, size } = parseCheckpoint(parseNote(note).text);
    return { origin, size, note };
  } catch {
    return undefined;
  }
}

/** `localStorage`, when the browser lets this page use it (not in some private modes, say). */
function storage(): Storage | undefined {
  try {
    return globalThis.localStorage;
  } catch {
    return undefined;
  }
}

function remembered(store: Storage, origin: string): RememberedCheckpoint | undefined {
  const note = store.getItem(`${STORAGE_PREFIX}${origin}`);
  const checkpoint = note === null ? undefined : checkpointOf(note);
  return checkpoint?.origin === origin ? checkpoint : undefined;
}

/**
 * The checkpoint remembered for the tenant's log (origins end with `/<tenant>`); the largest, should the
 * log's name have changed over time.
 */
export function rememberedCheckpoint(tenantId: string): RememberedCheckpoint | undefined {
  const store = storage();
  if (store === undefined) return undefined;
  let best: RememberedCheckpoint | undefined;
  try {
    for (let position = 0; position < store.length; position += 1) {
      const item = store.key(position);
      if (item === null || !item.startsWith(STORAGE_PREFIX) || !item.endsWith(`/${tenantId}`)) continue;
      const checkpoint = remembered(store, item.slice(STORAGE_PREFIX.length));
      if (checkpoint !== undefined && (best === undefined || checkpoint.size > best.size)) best = checkpoint;
    }
  } catch {
    return undefined;
  }
  return best;
}

/**
 * Remembers the checkpoint of a receipt that verified, unless this browser already holds a larger one of
 * the same log (another tab, or a later answer verified first).
 */
export function rememberCheckpoint(note: string): void {
  const checkpoint = checkpointOf(note);
  const store = storage();
  if (checkpoint === undefined || store === undefined) return;
  try {
    const held = remembered(store, checkpoint.origin);
    if (held === undefined || held.size < checkpoint.size)
      store.setItem(`${STORAGE_PREFIX}${checkpoint.origin}`, note);
  } catch {
    // A full or refused storage only means this browser witnesses less.
  }
}

/** Forgets a remembered checkpoint, unless another one has replaced it meanwhile. */
export function forgetCheckpoint(checkpoint: RememberedCheckpoint): void {
  const store = storage();
  if (store === undefined) return;
  const item = `${STORAGE_PREFIX}${checkpoint.origin}`;
  try {
    if (store.getItem(item) === checkpoint.note) store.removeItem(item);
  } catch {
    // Nothing to forget in a storage that cannot be read.
  }
}

async function verifiersOf(keys: unknown): Promise<NoteVerifier[] | undefined> {
  try {
    return await noteVerifiersFromJwks(keys);
  } catch {
    return undefined;
  }
}

async function signedBy(
  note: string,
  verifiers: readonly NoteVerifier[],
): Promise<'yes' | 'unknown_key' | 'no'> {
  try {
    await verifyNote(note, verifiers);
    return 'yes';
  } catch (error: unknown) {
    return error instanceof AuditProofError && error.code === 'note_key_unknown' ? 'unknown_key' : 'no';
  }
}

/** The remembered checkpoint a receipt is checked against, and the keys that verify it. */
export interface Witness {
  readonly checkpoint?: RememberedCheckpoint;
  readonly keys: unknown;
}

/**
 * The checkpoint this browser remembers for the tenant's log, if one of the published keys signed it. Old
 * keys stay published after a rotation, so a checkpoint signed by none of them is of another log (a
 * development data dir reset with new keys, say): it is forgotten, and receipts verify without it. A server
 * cannot use this to hide a rewrite without replacing its published keys, which everyone sees. A checkpoint
 * by a key the cached key set lacks is checked once more against `freshKeys()`, whose answer is then the
 * key set to verify the receipt with.
 */
export async function witnessFor(
  tenantId: string,
  keys: unknown,
  freshKeys: () => Promise<unknown>,
): Promise<Witness> {
  const checkpoint = rememberedCheckpoint(tenantId);
  if (checkpoint === undefined) return { keys };
  const verifiers = await verifiersOf(keys);
  // Keys that do not parse fail the receipt itself (`keys_invalid`); the checkpoint is no reason to forget.
  if (verifiers === undefined) return { keys };
  let signed = await signedBy(checkpoint.note, verifiers);
  let usedKeys = keys;
  if (signed === 'unknown_key') {
    // Keys that cannot be fetched again leave the receipt unavailable: no reason to forget the checkpoint.
    const refreshed = await freshKeys();
    const fresh = refreshed === keys ? undefined : await verifiersOf(refreshed);
    if (fresh !== undefined) {
      signed = await signedBy(checkpoint.note, fresh);
      usedKeys = refreshed;
    }
  }
  if (signed === 'yes') return { checkpoint, keys: usedKeys };
  // Not signed by a published key (or not a valid note at all): not a witness of this log.
  forgetCheckpoint(checkpoint);
  return { keys: usedKeys };
}
