import { z } from 'zod';

import { parsePasswordHash } from '../services/password-hash.js';

const text = (max: number) => z.string().trim().min(1).max(max);
const role = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}$/, 'a role is 1–64 of A-Z a-z 0-9 : . _ -');
const redirectUri = z.url({ protocol: /^https?$/ }).max(2000);

const userSchema = z
  .object({
    sub: text(255).optional(),
    /** Accepted as a spelling of `sub`. */
    id: text(255).optional(),
    email: z.email().max(254),
    name: text(200).optional(),
    password_hash: z.string().refine((value) => parsePasswordHash(value) !== undefined, {
      message: 'expected scrypt$N$r$p$salt$hash (make one with hash-password.js)',
    }),
    roles: z.array(role).max(64).default([]),
    tenant_id: text(128).optional(),
  })
  .strict()
  .refine((user) => user.sub !== undefined || user.id !== undefined, { message: 'needs "sub" (or "id")' })
  .refine((user) => user.sub === undefined || user.id === undefined || user.sub === user.id, {
    message: '"sub" and "id" differ',
  })
  .transform((user) => ({
    sub: user.sub ?? user.id ?? '',
    email: user.email.toLowerCase(),
    name: user.name,
    passwordHash: user.password_hash,
    roles: user.roles,
    tenantId: user.tenant_id,
  }));

const clientSchema = z
  .object({
    client_id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a client id is 1–128 of A-Z a-z 0-9 . _ -'),
    /** `spa`: authorization code + PKCE in a browser; `device`: device authorization grant (CLIs). */
    type: z.enum(['spa', 'device']),
    client_name: text(200).optional(),
    redirect_uris: z.array(redirectUri).max(50).default([]),
    post_logout_redirect_uris: z.array(redirectUri).max(50).default([]),
  })
  .strict();

/** The identity config file (`IDENTITY_CONFIG_FILE`): the users who can sign in and extra public clients. */
export const identityFileSchema = z
  .object({
    users: z.array(userSchema).max(100_000),
    clients: z.array(clientSchema).max(1000).default([]),
  })
  .strict()
  .superRefine((file, ctx) => {
    const subs = new Set<string>();
    const emails = new Set<string>();
    file.users.forEach((user, index) => {
      if (subs.has(user.sub))
        ctx.addIssue({ code: 'custom', path: ['users', index, 'sub'], message: 'duplicate' });
      if (emails.has(user.email)) {
        ctx.addIssue({ code: 'custom', path: ['users', index, 'email'], message: 'duplicate' });
      }
      subs.add(user.sub);
      emails.add(user.email);
    });
    const clients = new Set<string>();
    file.clients.forEach((client, index) => {
      if (clients.has(client.client_id)) {
        ctx.addIssue({ code: 'custom', path: ['clients', index, 'client_id'], message: 'duplicate' });
      }
      clients.add(client.client_id);
    });
  });

export type IdentityFile = z.output<typeof identityFileSchema>;
export type IdentityUser = IdentityFile['users'][number];
export type IdentityFileClient = IdentityFile['clients'][number];
