import type { IdentityUser } from '../dtos/identity-file.dto.js';
import { hashPassword, verifyPassword } from './password-hash.js';

/** The users of the config file, looked up by subject and by email. */
export class AccountDirectory {
  private readonly bySub = new Map<string, IdentityUser>();
  private readonly byEmail = new Map<string, IdentityUser>();
  /** Checked when the email is unknown, so an unknown email costs what a wrong password costs. */
  private readonly dummyHash: Promise<string>;

  constructor(users: readonly IdentityUser[]) {
    for (const user of users) {
      this.bySub.set(user.sub, user);
      this.byEmail.set(user.email, user);
    }
    this.dummyHash = hashPassword('aibox-dummy-password');
  }

  findBySub(sub: string): IdentityUser | undefined {
    return this.bySub.get(sub);
  }

  /** The user whose email and password match; `undefined` otherwise, after the same work either way. */
  async authenticate(email: string, password: string): Promise<IdentityUser | undefined> {
    const user = this.byEmail.get(normalizeEmail(email));
    const matches = await verifyPassword(password, user?.passwordHash ?? (await this.dummyHash));
    return user !== undefined && matches ? user : undefined;
  }
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** The claims aibox reads from an access token (ARCHITECTURE §3): email, roles, and the tenant when set. */
export function accessTokenClaims(user: IdentityUser): Record<string, unknown> {
  return {
    email: user.email,
    roles: [...user.roles],
    ...(user.tenantId === undefined ? {} : { tenant_id: user.tenantId }),
  };
}
