import { z } from 'zod';

/** The roles of ARCHITECTURE §7: the mesh asks for these, never for a concrete model. */
export const ROLES = [
  'default',
  'title',
  'classifier',
  'memory',
  'profile_curation',
  'vision',
  'guardrail',
  'knowledge',
  'embedding',
] as const;
export type Role = (typeof ROLES)[number];

const providerName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 of a-z 0-9 _ - (starting with a letter or digit)');

/** Sent as `Authorization: Bearer <key>`: visible ASCII only, so it can never break the header. */
const apiKey = z.string().regex(/^[!-~]{1,4096}$/, 'must be 1-4096 visible ASCII characters');

export const createProviderBody = z.strictObject({
  name: providerName,
  kind: z.enum(['chat_completions', 'responses']),
  base_url: z.string().min(1).max(2_048),
  api_key: apiKey.optional(),
  enabled: z.boolean().default(true),
});
export type CreateProviderBody = z.infer<typeof createProviderBody>;

export const patchProviderBody = z
  .strictObject({
    kind: z.enum(['chat_completions', 'responses']).optional(),
    base_url: z.string().min(1).max(2_048).optional(),
    /** A new key, or null to remove the key. */
    api_key: apiKey.nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .refine((body) => Object.keys(body).length > 0, 'nothing to change');
export type PatchProviderBody = z.infer<typeof patchProviderBody>;

export const providerParams = z.strictObject({ name: providerName });
export const roleParams = z.strictObject({ role: z.enum(ROLES) });

/**
 * `<provider>/<model>`: the model part may itself hold slashes (`meta/llama-3`), never whitespace or control
 * characters (PostgreSQL text cannot hold a NUL).
 */
export const modelId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}\/[^\s\p{Cc}]{1,256}$/u, 'must be <provider name>/<model>');

export const roleBody = z.strictObject({
  models: z.array(modelId).min(1).max(16),
});

/** A provider as the admin API shows it: never the key, only its hint. */
export interface ProviderView {
  readonly name: string;
  readonly kind: 'chat_completions' | 'responses';
  readonly base_url: string;
  readonly enabled: boolean;
  readonly key_hint: string | null;
  readonly created_at: string;
  readonly updated_at: string;
}

export interface RoleView {
  readonly role: Role;
  readonly models: readonly string[];
}
