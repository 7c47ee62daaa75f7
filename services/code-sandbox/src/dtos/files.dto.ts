import { z } from 'zod';

/** A workspace path as the sandbox sees it (`x/y`, `/x/y` or `/workspace/x/y`); `WorkspaceFiles` judges the rest. */
const workspacePath = z.string().max(4_096);

/** Query numbers are digits only: no signs, exponents, hex or blanks that `Number()` would accept. */
const count = z
  .string()
  .regex(/^\d{1,15}$/, 'must be a non-negative integer')
  .transform(Number);

const flag = z.enum(['true', 'false']).transform((value) => value === 'true');

/** `GET /files`, `GET|PUT /files/archive`: the workspace root when `path` is left out. */
export const directoryQuery = z.strictObject({ path: workspacePath.default('') });

export type DirectoryQuery = z.output<typeof directoryQuery>;

export const readQuery = z.strictObject({
  path: workspacePath,
  offset: count.optional(),
  length: count.optional(),
});

export type ReadQuery = z.output<typeof readQuery>;

export const writeQuery = z.strictObject({ path: workspacePath, mkdirs: flag.optional() });

export type WriteQuery = z.output<typeof writeQuery>;

export const removeQuery = z.strictObject({ path: workspacePath, recursive: flag.optional() });

export type RemoveQuery = z.output<typeof removeQuery>;

/**
 * `PUT /files/content`: the file as JSON, text in `content` or any bytes in `content_base64` (exactly one), so
 * that no parser for raw bodies has to be registered app-wide. `mode` is octal text, `"755"` or `"0644"`.
 */
export const writeBody = z
  .strictObject({
    content: z.string().optional(),
    content_base64: z.base64().optional(),
    mode: z
      .string()
      .regex(/^0?[0-7]{3}$/, 'must be three octal digits, e.g. "644"')
      .transform((value) => Number.parseInt(value, 8))
      .optional(),
  })
  .refine((body) => (body.content === undefined) !== (body.content_base64 === undefined), {
    message: 'give exactly one of content and content_base64',
  });

export type WriteBody = z.output<typeof writeBody>;
