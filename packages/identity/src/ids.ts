import { randomFillSync } from 'node:crypto';

import { validate, v7 } from 'uuid';

/**
 * Random bytes for {@link newTurnId}, drawn 4 KiB at a time: `uuid`'s own generator asks WebCrypto for
 * 16 bytes per id, which costs a syscall and argument checks on every request of the gateway.
 */
const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let poolOffset = POOL_BYTES;

function randomBytes16(): Uint8Array {
  if (poolOffset + 16 > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + 16);
  poolOffset += 16;
  return bytes;
}

/**
 * The RFC 9562 §6.2 method 1 counter `uuid` keeps when it draws its own randomness: ids made in the same
 * millisecond still sort in the order they were made.
 */
const clock = { msecs: -Infinity, seq: 0 };

/** A fresh UUIDv7: time-ordered, so turns sort by start time in every store. */
export function newTurnId(): string {
  const random = randomBytes16();
  const now = Date.now();
  if (now > clock.msecs) {
    // A random 31-bit start, as `uuid` does, so the counter does not leak how many ids were made.
    clock.seq =
      (((random[6] ?? 0) & 0x7f) << 24) |
      ((random[7] ?? 0) << 16) |
      ((random[8] ?? 0) << 8) |
      (random[9] ?? 0);
    clock.msecs = now;
  } else {
    clock.seq = (clock.seq + 1) | 0;
    if (clock.seq === 0) clock.msecs += 1;
  }
  return v7({ random, msecs: clock.msecs, seq: clock.seq });
}

/** True for an RFC 9562 UUID string in the canonical 8-4-4-4-12 hex form (any case). */
export function isUuid(value: unknown): value is string {
  return validate(value);
}
