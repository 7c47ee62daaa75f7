import { TURN_EVENT_TYPES } from '@aibox/contracts';
import { isUuid } from '@aibox/identity';
import { z } from 'zod';

/** A turn id in a path: a UUID, compared lower-case. */
export const turnIdParam = z
  .string()
  .refine((value) => isUuid(value), 'must be a UUID')
  .transform((value) => value.toLowerCase());

export const turnParams = z.object({ turnId: turnIdParam }).strict();

export const artifactParams = z
  .object({
    turnId: turnIdParam,
    eventId: z
      .string()
      .refine((value) => isUuid(value), 'must be a UUID')
      .transform((value) => value.toLowerCase()),
    kind: z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'must match [a-z][a-z0-9_]{0,31}'),
  })
  .strict();

export const proofQuery = z
  .object({
    from_size: z
      .string()
      .regex(/^[1-9][0-9]{0,15}$/, 'must be a positive integer')
      .transform(Number)
      .optional(),
  })
  .strict();

const isoTime = z
  .string()
  .refine(
    (value) => !Number.isNaN(Date.parse(value)) && /^\d{4}-\d{2}-\d{2}/.test(value),
    'must be an ISO 8601 time',
  )
  .transform((value) => new Date(value));

export const adminTurnsQuery = z
  .object({
    user: z.string().min(1).max(256).optional(),
    from: isoTime.optional(),
    to: isoTime.optional(),
    type: z.enum(TURN_EVENT_TYPES).optional(),
    limit: z
      .string()
      .regex(/^[1-9][0-9]{0,2}$/, 'must be an integer from 1 to 200')
      .transform(Number)
      .refine((value) => value <= 200, 'must be an integer from 1 to 200')
      .optional(),
    cursor: z.string().max(200).optional(),
  })
  .strict();

export type AdminTurnsQuery = z.infer<typeof adminTurnsQuery>;
