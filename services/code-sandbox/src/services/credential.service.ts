import { SealedTextUnreadable, type SecretCipher } from '@aibox/platform';
import { newTurnId, type Principal } from '@aibox/identity';

import type { CreateCredentialBody, PatchCredentialBody } from '../dtos/credential.dto.js';
import { CredentialError } from '../errors/credential.error.js';
import type { CredentialRepository, CredentialRow } from '../repositories/credential.repository.js';

/** A credential as callers see it: never its value, only a hint of it. */
export interface CredentialView {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
  readonly created_at: string;
  readonly updated_at: string;
  readonly value_hint: string;
}

/** A credential's value, for the provisioning pipeline only. */
export interface ResolvedCredential {
  readonly id: string;
  readonly name: string;
  readonly value: string;
}

const isAdmin = (principal: Principal): boolean => principal.roles.includes('admin');

/** Whose credentials a principal may read and delete: their own, or the whole tenant's for an admin. */
const readableOwner = (principal: Principal): string | null => (isAdmin(principal) ? null : principal.uid);

/** What callers see of a value: its first 3 and last 2 characters when it has at least 12, else `***`. */
export function valueHint(value: string): string {
  const characters = Array.from(value);
  if (characters.length < 12) return '***';
  return `${characters.slice(0, 3).join('')}…${characters.slice(-2).join('')}`;
}

/** The associated data a value is sealed with: a sealed value copied onto another row does not open. */
function sealedFor(tenantId: string, id: string): string {
  return `code-sandbox.credential:${tenantId}:${id}`;
}

export function credentialView(row: CredentialRow): CredentialView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    value_hint: row.value_hint,
  };
}

/**
 * Users' secrets for their sandboxes (`/credentials`). Each belongs to a tenant and a user; an admin sees and
 * deletes the tenant's, only the owner changes one, and someone else's answers exactly like a missing one.
 * Values are sealed at rest and never answered; `resolveForSandbox` is the one way back to them. Without
 * `AIBOX_CREDENTIALS_KEY` every call is `credentials_key_missing`.
 */
export class CredentialService {
  constructor(
    private readonly credentials: CredentialRepository,
    private readonly cipher: SecretCipher | null,
  ) {}

  async create(principal: Principal, body: CreateCredentialBody): Promise<CredentialView> {
    const cipher = this.#cipher();
    const id = newTurnId();
    const row = await this.credentials.create(principal.tid, {
      id,
      userId: principal.uid,
      name: body.name,
      description: body.description ?? null,
      valueSealed: cipher.seal(body.value, sealedFor(principal.tid, id)),
      valueHint: valueHint(body.value),
    });
    if (row === undefined) throw new CredentialError('credential_name_taken', `"${body.name}"`);
    return credentialView(row);
  }

  async list(principal: Principal): Promise<{ data: CredentialView[] }> {
    this.#cipher();
    const rows = await this.credentials.list(principal.tid, readableOwner(principal));
    return { data: rows.map(credentialView) };
  }

  async get(principal: Principal, id: string): Promise<CredentialView> {
    this.#cipher();
    const row = await this.credentials.get(principal.tid, readableOwner(principal), id);
    if (row === undefined) throw new CredentialError('credential_unknown');
    return credentialView(row);
  }

  /** The owner's only: an admin cannot put a value into another user's sandboxes. */
  async update(principal: Principal, id: string, body: PatchCredentialBody): Promise<CredentialView> {
    const cipher = this.#cipher();
    const row = await this.credentials.update(principal.tid, principal.uid, id, {
      ...(body.description === undefined ? {} : { description: body.description }),
      ...(body.value === undefined
        ? {}
        : {
            value: {
              sealed: cipher.seal(body.value, sealedFor(principal.tid, id)),
              hint: valueHint(body.value),
            },
          }),
    });
    if (row === undefined) throw new CredentialError('credential_unknown');
    return credentialView(row);
  }

  async delete(principal: Principal, id: string): Promise<void> {
    this.#cipher();
    if (!(await this.credentials.delete(principal.tid, readableOwner(principal), id))) {
      throw new CredentialError('credential_unknown');
    }
  }

  /**
   * The values of the user's own credentials `ids`, in that order (repeats once), for a sandbox the user
   * starts. Another user's credential is `credential_unknown` like a missing one, admin or not.
   */
  async resolveForSandbox(
    tenantId: string,
    userId: string,
    ids: readonly string[],
  ): Promise<ResolvedCredential[]> {
    const cipher = this.#cipher();
    const wanted = [...new Set(ids)];
    const rows = new Map(
      (await this.credentials.findOwned(tenantId, userId, wanted)).map((row) => [row.id, row] as const),
    );
    return wanted.map((id) => {
      const row = rows.get(id);
      if (row === undefined) throw new CredentialError('credential_unknown', id);
      try {
        return {
          id: row.id,
          name: row.name,
          value: cipher.open(row.value_sealed, sealedFor(tenantId, row.id)),
        };
      } catch (error) {
        if (error instanceof SealedTextUnreadable) {
          throw new CredentialError('credential_unreadable', `"${row.name}" (${row.id})`);
        }
        throw error;
      }
    });
  }

  #cipher(): SecretCipher {
    if (this.cipher === null) throw new CredentialError('credentials_key_missing');
    return this.cipher;
  }
}
