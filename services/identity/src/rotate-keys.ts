import { resolve } from 'node:path';

import { IdentityServiceError } from './errors/identity.error.js';
import { rotateSigningKeys } from './repositories/signing-keys.repository.js';

/*
 * Rotates the identity service's signing keys: node services/identity/dist/rotate-keys.js
 * Reads AIBOX_DATA_DIR (default .data) like the service. A running service switches to the new keys within
 * IDENTITY_KEYS_RELOAD_MS; the old public keys stay in the JWKS until the tokens they signed have expired.
 */

const dataDir = resolve(process.env['AIBOX_DATA_DIR'] ?? '.data', 'identity');
try {
  const kids = await rotateSigningKeys(dataDir);
  process.stdout.write(`new signing keys: RS256 ${kids.RS256}, EdDSA ${kids.EdDSA}\n`);
} catch (error: unknown) {
  if (!(error instanceof IdentityServiceError)) throw error;
  process.stderr.write(`rotate-keys: ${error.message}\n`);
  process.exitCode = 1;
}
