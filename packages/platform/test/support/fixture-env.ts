import {
  generateKeySetValue,
  parseKeySet,
  signPrincipal,
  type KeySet,
  type Principal,
} from '@aibox/identity';

/** Key sets and an environment a fixture service boots with. */
export interface FixtureKeys {
  principalValue: string;
  capTokenValue: string;
  principal: KeySet;
}

export function fixtureKeys(): FixtureKeys {
  const principalValue = generateKeySetValue(['k-principal']);
  const capTokenValue = generateKeySetValue(['k-captoken']);
  return { principalValue, capTokenValue, principal: parseKeySet(principalValue) };
}

export function fixtureEnv(
  port: number,
  keys: FixtureKeys,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    PORT: String(port),
    HOST: '127.0.0.1',
    AIBOX_PRINCIPAL_KEYS: keys.principalValue,
    AIBOX_CAPTOKEN_KEYS: keys.capTokenValue,
    SHUTDOWN_GRACE_MS: '5000',
    ...extra,
  };
}

export const ALICE: Omit<Principal, 'iat' | 'exp'> = {
  tid: 'tenant-a',
  uid: 'user-alice',
  email: 'alice@example.test',
  roles: ['member'],
  iss: 'https://issuer.example.test',
  sub: 'alice',
};

export function alicePrincipal(keys: FixtureKeys): string {
  return signPrincipal(ALICE, keys.principal);
}

/** A pino destination that keeps every line (pino writes one whole line per call, synchronously). */
export class LogCapture {
  readonly raw: string[] = [];

  write(line: string): void {
    this.raw.push(line.trimEnd());
  }

  get lines(): Record<string, unknown>[] {
    return this.raw.map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  text(): string {
    return this.raw.join('\n');
  }
}
