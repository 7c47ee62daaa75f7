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
