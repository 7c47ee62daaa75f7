const MAX_CHARS = 300;

/** URLs (they may name internal hosts) and anything shaped like a credential. */
const URL_PATTERN = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;
const SECRET_PATTERN = /\b(?:sk|pk|rk|key|tok|api|bearer)[-_][A-Za-z0-9_-]{6,}|\b[A-Za-z0-9_-]{32,}\b/gi;
const HOST_PATTERN = /\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b|\blocalhost(?::\d+)?\b/gi;
/** IPv6 addresses: eight groups, or fewer around a `::`. */
const IPV6_PATTERN =
  /(?<![\w:])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}:){1,6}(?::[0-9a-f]{1,4}){1,6}|(?:[0-9a-f]{1,4}:){1,7}:|::(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4})(?![\w:])/gi;

/**
 * The provider's own explanation of a refused request (`error.message` of an OpenAI-style body), made safe
 * to show a caller: the key, URLs, addresses and credential-like tokens are replaced, and it is cut to
 * 300 characters. Undefined when the body carries no message.
 */
export function providerMessage(body: Buffer, apiKey: string | undefined): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  const error = (parsed as { error?: unknown } | null)?.error;
  const raw =
    typeof error === 'string'
      ? error
      : typeof (error as { message?: unknown } | null)?.message === 'string'
        ? (error as { message: string }).message
        : undefined;
  return raw === undefined ? undefined : safeProviderText(raw, apiKey);
}

/**
 * A provider's words made safe to show a caller: its key, URLs, addresses and credential-like tokens are
 * replaced, and the text is cut to 300 characters. Undefined when nothing is left.
 */
export function safeProviderText(raw: string, apiKey: string | undefined): string | undefined {
  let text = raw;
  if (apiKey !== undefined && apiKey.length >= 4) text = text.split(apiKey).join('[redacted]');
  text = text
    .replace(URL_PATTERN, '[url]')
    .replace(SECRET_PATTERN, '[redacted]')
    .replace(HOST_PATTERN, '[host]')
    .replace(IPV6_PATTERN, '[host]')
    .replace(/\s+/g, ' ')
    .trim();
  if (text === '') return undefined;
  return text.length > MAX_CHARS ? `${text.slice(0, MAX_CHARS)}…` : text;
}
