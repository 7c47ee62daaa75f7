import { ProviderConfigError } from '../errors/provider-config.error.js';

/** Endpoint paths people paste after an OpenAI-compatible base URL; registration strips them. */
const ENDPOINT_SUFFIXES = [
  '/chat/completions',
  '/completions',
  '/responses',
  '/embeddings',
  '/models',
] as const;

function fail(message: string): never {
  throw new ProviderConfigError('base_url_invalid', message);
}

/**
 * Normalizes a provider's base URL as ARCHITECTURE §7 says: surrounding whitespace dropped, `https://` when no
 * scheme is given, pasted endpoint suffixes (`/chat/completions`, `/responses`, `/embeddings`, `/models`,
 * `/completions`) and trailing slashes removed, host lower-cased. Refused: schemes other than http(s),
 * credentials in the URL (keys go in `api_key`), a query or fragment, no host.
 */
export function normalizeBaseUrl(input: string): string {
  const trimmed = input.trim();
  if (trimmed === '') fail('the base URL is empty');
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    fail(`not a URL: ${trimmed.slice(0, 200)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    fail(`the scheme ${url.protocol} is not http or https`);
  if (url.username !== '' || url.password !== '')
    fail('credentials do not belong in the base URL; use api_key');
  if (url.search !== '' || url.hash !== '') fail('the base URL may not carry a query or a fragment');
  if (url.hostname === '') fail('the base URL has no host');
  let path = url.pathname.replace(/\/+$/, '');
  for (let changed = true; changed;) {
    changed = false;
    for (const suffix of ENDPOINT_SUFFIXES) {
      if (path.toLowerCase().endsWith(suffix)) {
        path = path.slice(0, -suffix.length).replace(/\/+$/, '');
        changed = true;
      }
    }
  }
  return `${url.protocol}//${url.host}${path}`;
}
