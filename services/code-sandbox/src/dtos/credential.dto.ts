import { z } from 'zod';

/** The largest credential value, in UTF-8 bytes. */
export const CREDENTIAL_VALUE_MAX_BYTES = 65_536;

const value = z
  .string()
  .min(1)
  .refine(
    (text) => Buffer.byteLength(text, 'utf8') <= CREDENTIAL_VALUE_MAX_BYTES,
    `at most ${CREDENTIAL_VALUE_MAX_BYTES} bytes`,
  );

const description = z.string().max(1_000);

export const createCredentialBody = z.strictObject({
  name: z.string().regex(/^[a-zA-Z0-9_.-]{1,100}$/),
  value,
  description: description.optional(),
});

export type CreateCredentialBody = z.output<typeof createCredentialBody>;

/** `description: null` clears it. */
export const patchCredentialBody = z
  .strictObject({
    value: value.optional(),
    description: description.nullable().optional(),
  })
  .refine((body) => body.value !== undefined || body.description !== undefined, 'nothing to change');

export type PatchCredentialBody = z.output<typeof patchCredentialBody>;
