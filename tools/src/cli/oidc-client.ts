import * as client from 'openid-client';

import { CliError } from './cli.error.js';

function isLoopback(url: URL): boolean {
  return ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) || url.hostname.startsWith('127.');
}

/** The issuer's discovery document, as an openid-client configuration for a public client. */
export async function discoverIssuer(issuer: string, clientId: string): Promise<client.Configuration> {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new CliError('usage', `--issuer ${issuer} is not a URL`);
  }
  try {
    // Plain http is what `make dev` serves on loopback; anywhere else the issuer must be https.
    const insecure = url.protocol === 'http:' && isLoopback(url);
    return await client.discovery(url, clientId, undefined, client.None(), {
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- deprecated only to stand out; loopback http is make dev.
      ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
    });
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CliError('issuer_unreachable', `cannot read the OpenID configuration of ${issuer}: ${reason}`);
  }
}

/** Unix seconds when a token that lives `expiresIn` seconds from now expires. */
export function expiresAt(expiresIn: number | undefined, now: number = Date.now()): number {
  return Math.floor(now / 1000) + (expiresIn ?? 300);
}
