import { randomBytes } from 'node:crypto';

import { SecretCipher } from '@aibox/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Principal } from '@aibox/identity';

import { sandboxConfigSchema } from '../src/config/sandbox-config.schema.js';
import {
  CREDENTIAL_VALUE_MAX_BYTES,
  createCredentialBody,
  patchCredentialBody,
} from '../src/dtos/credential.dto.js';
import { CredentialError } from '../src/errors/credential.error.js';
import { CREDENTIAL_MIGRATIONS, type CredentialTables } from '../src/repositories/credential-schema.js';
import { CredentialRepository } from '../src/repositories/credential.repository.js';
import { SANDBOX_MIGRATIONS } from '../src/repositories/sandbox-schema.js';
import { CredentialService, type CredentialView } from '../src/services/credential.service.js';
import { openTestSqlStore, SQL_ADAPTERS, type TestSqlStore } from './support/sql.js';

/**
 * The credentials API's service against its real store: values sealed at rest and never answered, each
 * credential its owner's (an admin's view aside), and only the owner's resolvable for a sandbox.
 */

const TENANT = 'acme';

function principal(uid: string, roles: string[] = ['member'], tid = TENANT): Principal {
  return { tid, uid, email: `${uid}@example.test`, roles, iss: 'test', sub: uid, iat: 0, exp: 0 };
}

const ALICE = principal('alice');
const BOB = principal('bob');
const ADMIN = principal('carol', ['member', 'admin']);
const OUTSIDER = principal('alice', ['member', 'admin'], 'globex');

const GITHUB_TOKEN = 'ghp_Alice0123456789abcdefghijklmnopqrstuv';
const NEW_GITHUB_TOKEN = 'ghp_Alice9876543210zyxwvutsrqponmlkjihgf';
const SHORT = 'pin-4321';
const UNKNOWN_ID = '0190a0a0-0000-7000-8000-0000000000ff';

async function codeOf(work: Promise<unknown>): Promise<{ code: string; status: number; message: string }> {
  try {
    await work;
  } catch (error) {
    if (error instanceof CredentialError) {
      return { code: error.code, status: error.httpStatus, message: error.message };
    }
    throw error;
  }
  throw new Error('expected a CredentialError');
}

describe.each(SQL_ADAPTERS)('credentials on %s', (adapter) => {
  let store: TestSqlStore<CredentialTables>;
  let repository: CredentialRepository;
  let credentials: CredentialService;
  /** Every answer the service gave, to check no value ever appears in one. */
  const answers: unknown[] = [];

  const answered = async <T>(work: Promise<T>): Promise<T> => {
    const answer = await work;
    answers.push(answer);
    return answer;
  };

  beforeAll(async () => {
    store = await openTestSqlStore<CredentialTables>(adapter);
    await store.sql.migrate({ ...SANDBOX_MIGRATIONS, ...CREDENTIAL_MIGRATIONS });
    repository = new CredentialRepository(store.sql);
    credentials = new CredentialService(repository, new SecretCipher(randomBytes(32)));
  });

  afterAll(async () => {
    await store.cleanup();
  });

  it('creates, lists, reads, changes and deletes a credential without ever answering its value', async () => {
    const created = await answered(
      credentials.create(ALICE, { name: 'github.token', value: GITHUB_TOKEN, description: 'CI pushes' }),
    );
    expect(created).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
      name: 'github.token',
      description: 'CI pushes',
      created_at: expect.any(String) as unknown,
      updated_at: expect.any(String) as unknown,
      value_hint: 'ghp…uv',
    });
    const short = await answered(credentials.create(ALICE, { name: 'pin', value: SHORT }));
    expect(short).toMatchObject({ description: null, value_hint: '***' });

    const listed = await answered(credentials.list(ALICE));
    expect(listed.data.map((item) => item.name)).toEqual(['pin', 'github.token']);
    expect(await answered(credentials.get(ALICE, created.id))).toEqual(created);

    const changed = await answered(
      credentials.update(ALICE, created.id, { value: NEW_GITHUB_TOKEN, description: null }),
    );
    expect(changed).toMatchObject({
      id: created.id,
      name: 'github.token',
      description: null,
      value_hint: 'ghp…gf',
    });
    expect(Date.parse(changed.updated_at)).toBeGreaterThanOrEqual(Date.parse(created.updated_at));
    const described = await answered(credentials.update(ALICE, created.id, { description: 'rotated' }));
    expect(described).toMatchObject({ description: 'rotated', value_hint: 'ghp…gf' });

    const resolved = await credentials.resolveForSandbox(TENANT, ALICE.uid, [short.id, created.id]);
    expect(resolved).toEqual([
      { id: short.id, name: 'pin', value: SHORT },
      { id: created.id, name: 'github.token', value: NEW_GITHUB_TOKEN },
    ]);

    await answered(credentials.delete(ALICE, short.id));
    expect(await codeOf(credentials.get(ALICE, short.id))).toMatchObject({
      code: 'credential_unknown',
      status: 404,
    });
    expect(await codeOf(credentials.delete(ALICE, short.id))).toMatchObject({ code: 'credential_unknown' });
    expect((await answered(credentials.list(ALICE))).data.map((item) => item.id)).toEqual([created.id]);

    const everything = JSON.stringify(answers);
    for (const value of [GITHUB_TOKEN, NEW_GITHUB_TOKEN, SHORT]) expect(everything).not.toContain(value);
    await credentials.delete(ALICE, created.id);
  });

  it('stores the value sealed, bound to its row: the column holds no plaintext, and a copied one does not open', async () => {
    const first = await credentials.create(ALICE, { name: 'sealed-1', value: GITHUB_TOKEN });
    const second = await credentials.create(ALICE, { name: 'sealed-2', value: SHORT });
    const rows = await store.sql
      .forTenant(TENANT)
      .transaction((trx) =>
        trx.selectFrom('credentials').selectAll().where('id', 'in', [first.id, second.id]).execute(),
      );
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.value_sealed).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      expect(JSON.stringify(row)).not.toContain(GITHUB_TOKEN);
      expect(JSON.stringify(row)).not.toContain(SHORT);
    }

    // A sealed value moved onto another row (a write straight into the store) does not open there.
    const firstSealed = rows.find((row) => row.id === first.id)?.value_sealed ?? '';
    await store.sql
      .forTenant(TENANT)
      .transaction((trx) =>
        trx
          .updateTable('credentials')
          .set({ value_sealed: firstSealed })
          .where('id', '=', second.id)
          .execute(),
      );
    expect(await codeOf(credentials.resolveForSandbox(TENANT, ALICE.uid, [second.id]))).toMatchObject({
      code: 'credential_unreadable',
      status: 409,
    });
    // Another key opens nothing either.
    const rekeyed = new CredentialService(repository, new SecretCipher(randomBytes(32)));
    expect(await codeOf(rekeyed.resolveForSandbox(TENANT, ALICE.uid, [first.id]))).toMatchObject({
      code: 'credential_unreadable',
    });
    await credentials.delete(ALICE, first.id);
    await credentials.delete(ALICE, second.id);
  });

  it("answers someone else's credential exactly like a missing one, and never resolves it for their sandbox", async () => {
    const alices = await credentials.create(ALICE, { name: 'deploy-key', value: GITHUB_TOKEN });

    const missing = await codeOf(credentials.get(BOB, UNKNOWN_ID));
    expect(await codeOf(credentials.get(BOB, alices.id))).toEqual(missing);
    expect(await codeOf(credentials.update(BOB, alices.id, { value: 'bob-was-here-123' }))).toEqual(
      await codeOf(credentials.update(BOB, UNKNOWN_ID, { value: 'bob-was-here-123' })),
    );
    expect(await codeOf(credentials.delete(BOB, alices.id))).toEqual(
      await codeOf(credentials.delete(BOB, UNKNOWN_ID)),
    );
    expect((await credentials.list(BOB)).data).toEqual([]);

    const resolving = await codeOf(credentials.resolveForSandbox(TENANT, BOB.uid, [alices.id]));
    expect(resolving).toMatchObject({ code: 'credential_unknown', status: 404 });
    expect(resolving.message).toContain(alices.id);
    // Even an admin's sandbox resolves only the admin's own.
    expect(await codeOf(credentials.resolveForSandbox(TENANT, ADMIN.uid, [alices.id]))).toMatchObject({
      code: 'credential_unknown',
    });
    // Another tenant does not see it, whoever asks.
    expect(await codeOf(credentials.get(OUTSIDER, alices.id))).toMatchObject({ code: 'credential_unknown' });
    expect(await codeOf(credentials.resolveForSandbox('globex', ALICE.uid, [alices.id]))).toMatchObject({
      code: 'credential_unknown',
    });

    // Bob's attempts changed nothing.
    expect(await credentials.resolveForSandbox(TENANT, ALICE.uid, [alices.id])).toEqual([
      { id: alices.id, name: 'deploy-key', value: GITHUB_TOKEN },
    ]);
    await credentials.delete(ALICE, alices.id);
  });

  it('names the first missing id when resolving, and resolves a repeated id once', async () => {
    const one = await credentials.create(BOB, { name: 'one', value: 'value-number-one' });
    const two = await credentials.create(BOB, { name: 'two', value: 'value-number-two' });
    const other = '0190a0a0-0000-7000-8000-0000000000ee';

    const failed = await codeOf(credentials.resolveForSandbox(TENANT, BOB.uid, [one.id, UNKNOWN_ID, other]));
    expect(failed.code).toBe('credential_unknown');
    expect(failed.message).toContain(UNKNOWN_ID);
    expect(failed.message).not.toContain(other);

    expect(await credentials.resolveForSandbox(TENANT, BOB.uid, [two.id, one.id, two.id])).toEqual([
      { id: two.id, name: 'two', value: 'value-number-two' },
      { id: one.id, name: 'one', value: 'value-number-one' },
    ]);
    expect(await credentials.resolveForSandbox(TENANT, BOB.uid, [])).toEqual([]);
    await credentials.delete(BOB, one.id);
    await credentials.delete(BOB, two.id);
  });

  it("lets an admin list and delete the tenant's credentials, but not change another user's", async () => {
    const alices = await credentials.create(ALICE, { name: 'shared-name', value: GITHUB_TOKEN });
    const bobs = await credentials.create(BOB, { name: 'shared-name', value: 'bobs-own-secret-value' });
    const outsiders = await credentials.create(OUTSIDER, {
      name: 'shared-name',
      value: 'globex-secret-1234',
    });

    const seen = await credentials.list(ADMIN);
    expect(seen.data.map((item) => item.id).sort()).toEqual([alices.id, bobs.id].sort());
    expect(JSON.stringify(seen)).not.toContain(GITHUB_TOKEN);
    expect(await credentials.get(ADMIN, bobs.id)).toEqual(bobs);
    expect(await codeOf(credentials.get(ADMIN, outsiders.id))).toMatchObject({ code: 'credential_unknown' });

    expect(
      await codeOf(credentials.update(ADMIN, alices.id, { value: 'admin-injected-value' })),
    ).toMatchObject({
      code: 'credential_unknown',
    });
    expect(await credentials.resolveForSandbox(TENANT, ALICE.uid, [alices.id])).toEqual([
      { id: alices.id, name: 'shared-name', value: GITHUB_TOKEN },
    ]);

    await credentials.delete(ADMIN, alices.id);
    await credentials.delete(ADMIN, bobs.id);
    expect((await credentials.list(ADMIN)).data).toEqual([]);
    expect(await codeOf(credentials.get(ALICE, alices.id))).toMatchObject({ code: 'credential_unknown' });
    expect((await credentials.list(OUTSIDER)).data.map((item: CredentialView) => item.id)).toEqual([
      outsiders.id,
    ]);
    await credentials.delete(OUTSIDER, outsiders.id);
  });

  it('refuses a second credential of the same name for the same user with credential_name_taken', async () => {
    const first = await credentials.create(ALICE, { name: 'npm', value: 'npm_token_value_1' });
    expect(
      await codeOf(credentials.create(ALICE, { name: 'npm', value: 'npm_token_value_2' })),
    ).toMatchObject({
      code: 'credential_name_taken',
      status: 409,
    });
    // Another user may use the name.
    const bobs = await credentials.create(BOB, { name: 'npm', value: 'npm_token_value_3' });
    expect(await credentials.resolveForSandbox(TENANT, ALICE.uid, [first.id])).toEqual([
      { id: first.id, name: 'npm', value: 'npm_token_value_1' },
    ]);
    await credentials.delete(ALICE, first.id);
    await credentials.delete(BOB, bobs.id);
  });

  it('answers every call with credentials_key_missing (503) when no key is configured', async () => {
    const existing = await credentials.create(ALICE, { name: 'kept', value: GITHUB_TOKEN });
    const keyless = new CredentialService(repository, null);
    const calls: Promise<unknown>[] = [
      keyless.create(ALICE, { name: 'other', value: GITHUB_TOKEN }),
      keyless.list(ALICE),
      keyless.get(ALICE, existing.id),
      keyless.update(ALICE, existing.id, { description: 'x' }),
      keyless.delete(ALICE, existing.id),
      keyless.resolveForSandbox(TENANT, ALICE.uid, [existing.id]),
    ];
    for (const call of calls) {
      expect(await codeOf(call)).toMatchObject({ code: 'credentials_key_missing', status: 503 });
    }
    expect((await credentials.list(ALICE)).data.map((item) => item.name)).toEqual(['kept']);
    await credentials.delete(ALICE, existing.id);
  });
});

describe('credential requests and settings', () => {
  it('takes names of 1–100 letters, digits, `_`, `.` and `-`, and values up to 64 KiB', () => {
    expect(createCredentialBody.safeParse({ name: 'a.b-c_D9', value: 'x' }).success).toBe(true);
    expect(createCredentialBody.safeParse({ name: 'x'.repeat(100), value: 'x' }).success).toBe(true);
    for (const name of ['', 'x'.repeat(101), 'has space', 'slash/name', 'émoji']) {
      expect(createCredentialBody.safeParse({ name, value: 'x' }).success).toBe(false);
    }
    const largest = 'x'.repeat(CREDENTIAL_VALUE_MAX_BYTES);
    expect(createCredentialBody.safeParse({ name: 'big', value: largest }).success).toBe(true);
    expect(createCredentialBody.safeParse({ name: 'big', value: `${largest}x` }).success).toBe(false);
    // Bytes, not characters: 2-byte characters reach the limit at half the length.
    expect(
      createCredentialBody.safeParse({ name: 'big', value: 'é'.repeat(CREDENTIAL_VALUE_MAX_BYTES / 2 + 1) })
        .success,
    ).toBe(false);
    expect(createCredentialBody.safeParse({ name: 'n', value: 'x', extra: 1 }).success).toBe(false);
    expect(createCredentialBody.safeParse({ name: 'n' }).success).toBe(false);
  });

  it('takes a change of value or description, and refuses an empty one or the name', () => {
    expect(patchCredentialBody.safeParse({ value: 'new' }).success).toBe(true);
    expect(patchCredentialBody.safeParse({ description: null }).success).toBe(true);
    expect(patchCredentialBody.safeParse({}).success).toBe(false);
    expect(patchCredentialBody.safeParse({ name: 'renamed' }).success).toBe(false);
  });

  it('reads AIBOX_CREDENTIALS_KEY as 32 bytes of base64, and may go without it', () => {
    const key = randomBytes(32);
    const setting = sandboxConfigSchema.shape.AIBOX_CREDENTIALS_KEY;
    expect(setting.parse(key.toString('base64'))?.equals(key)).toBe(true);
    expect(setting.parse(undefined)).toBeUndefined();
    expect(setting.safeParse(randomBytes(16).toString('base64')).success).toBe(false);
  });
});
