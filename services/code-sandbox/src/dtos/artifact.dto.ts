import { isUuid } from '@aibox/identity';
import { z } from 'zod';

/**
 * `POST /sandboxes/{id}/artifacts`: the workspace file to copy out (`x/y`, `/x/y` or `/workspace/x/y`);
 * `WorkspaceFiles` judges the path as the files API does.
 */
export const createArtifactBody = z.strictObject({ path: z.string().min(1).max(4_096) });

export type CreateArtifactBody = z.output<typeof createArtifactBody>;

/** `GET /sandboxes/{id}/artifacts`: oldest first, a page at a time; `after` is the last id of the page before. */
export const listArtifactsQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^\d{1,4}$/, 'must be an integer from 1 to 1000')
    .transform(Number)
    .pipe(z.number().int().min(1).max(1_000))
    .default(100),
  after: z
    .string()
    .refine((value) => isUuid(value), 'must be an artifact id')
    .transform((value) => value.toLowerCase())
    .optional(),
});

export type ListArtifactsQuery = z.output<typeof listArtifactsQuery>;
