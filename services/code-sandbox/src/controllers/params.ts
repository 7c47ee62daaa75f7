import type { PipeTransform } from '@nestjs/common';

import { isUuid } from '@aibox/identity';
import { PlatformError } from '@aibox/platform';

/** A path id that must be a UUID: anything else is a 400, never a lookup. */
export const uuidParam: PipeTransform<string, string> = {
  transform(value: string): string {
    if (!isUuid(value)) throw new PlatformError('invalid_request', { detail: 'the id must be a UUID' });
    return value.toLowerCase();
  },
};

/** `Idempotency-Key`: 1–200 visible ASCII characters. */
export function idempotencyKey(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,200}$/.test(value)) {
    throw new PlatformError('invalid_request', {
      detail: 'Idempotency-Key must be 1–200 visible ASCII characters',
    });
  }
  return value;
}
