import { validate, v7 } from 'uuid';

/** A fresh UUIDv7: time-ordered, so turns sort by start time in every store. */
export function newTurnId(): string {
  return v7();
}

/** True for an RFC 9562 UUID string in the canonical 8-4-4-4-12 hex form (any case). */
export function isUuid(value: unknown): value is string {
  return validate(value);
}
