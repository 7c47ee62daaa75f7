import { describe, expect, it } from 'vitest';

import { providerMessage } from './provider-message.js';

/** An OpenAI-shaped error body carrying `message`. */
function body(message: unknown): Buffer {
  return Buffer.from(JSON.stringify({ error: { message, type: 'invalid_request_error', code: null } }));
}

describe('providerMessage', () => {
  it('gives the message of an OpenAI-shaped error body', () => {
    expect(providerMessage(body('Rate limit reached for gpt-4o, please retry'), 'sk-test')).toBe(
      'Rate limit reached for gpt-4o, please retry',
    );
  });

  it('gives a string error field', () => {
    expect(providerMessage(Buffer.from('{"error":"model \\"llama3\\" not found"}'), undefined)).toBe(
      'model "llama3" not found',
    );
  });

  it.each([
    ['non-JSON', '<html><body>502 Bad Gateway</body></html>'],
    ['empty', ''],
    ['JSON null', 'null'],
    ['a JSON string', '"Bad Gateway"'],
    ['no error field', '{"message":"top-level message"}'],
    ['error null', '{"error":null}'],
    ['error without message', '{"error":{"type":"server_error","code":"x"}}'],
    ['a numeric message', '{"error":{"message":42}}'],
    ['a whitespace message', '{"error":{"message":" \\n\\t "}}'],
    ['an error array', '{"error":["nope"]}'],
  ])('gives undefined for %s', (_case, text) => {
    expect(providerMessage(Buffer.from(text), 'sk-test')).toBeUndefined();
  });

  it('replaces the key, wherever it appears', () => {
    const key = 'abcd1234';
    expect(providerMessage(body(`Incorrect API key provided: ${key}. Key ${key}x is also bad`), key)).toBe(
      'Incorrect API key provided: [redacted]. Key [redacted]x is also bad',
    );
  });

  it('replaces a key of 4 characters but not a shorter one', () => {
    expect(providerMessage(body('bad key wxyz'), 'wxyz')).toBe('bad key [redacted]');
    expect(providerMessage(body('bad key xyz'), 'xyz')).toBe('bad key xyz');
  });

  it('replaces a key holding regular-expression characters literally', () => {
    expect(providerMessage(body('key a.b*c+d( rejected, a-b-c-d kept'), 'a.b*c+d(')).toBe(
      'key [redacted] rejected, a-b-c-d kept',
    );
  });

  it.each([
    [
      'http://10.0.0.5:8080/v1/chat/completions',
      'could not reach http://10.0.0.5:8080/v1/chat/completions now',
    ],
    [
      'https://internal.example.com/v1?x=1&y=2',
      'could not reach https://internal.example.com/v1?x=1&y=2 now',
    ],
    ['http://ollama:11434', 'could not reach http://ollama:11434 now'],
    ['https://[fd00::1]:8443/v1', 'could not reach https://[fd00::1]:8443/v1 now'],
    ['HTTPS://Gateway.Example/Path', 'could not reach HTTPS://Gateway.Example/Path now'],
  ])('replaces the URL %s', (_url, message) => {
    expect(providerMessage(body(message), undefined)).toBe('could not reach [url] now');
  });

  it('replaces several URLs and keeps the text between them', () => {
    expect(
      providerMessage(
        body('tried http://a.internal/v1 then https://b.internal:444/x and gave up'),
        undefined,
      ),
    ).toBe('tried [url] then [url] and gave up');
  });

  it.each([
    ['192.168.1.20:11434', 'upstream 192.168.1.20:11434 refused'],
    ['10.0.0.1', 'upstream 10.0.0.1 refused'],
    ['localhost:8000', 'upstream localhost:8000 refused'],
    ['LOCALHOST', 'upstream LOCALHOST refused'],
  ])('replaces the address %s', (_host, message) => {
    expect(providerMessage(body(message), undefined)).toBe('upstream [host] refused');
  });

  // The doc promises addresses are replaced; only IPv4 and localhost are. `connect ECONNREFUSED <address>` is
  // Node's own wording, which a proxy in front of a model server may pass on in its error message.
  it('replaces an IPv6 address', () => {
    const message = providerMessage(body('connect ECONNREFUSED fd12:3456:789a::10 (port 11434)'), undefined);
    expect(message).toBeDefined();
    expect(message).not.toContain('fd12:3456:789a::10');
  });

  it.each([
    ['sk-proj-AbC123xyz789', 'key sk-proj-AbC123xyz789 is invalid'],
    ['sk_live_0123456', 'key sk_live_0123456 is invalid'],
    ['Bearer-abcdefgh', 'key Bearer-abcdefgh is invalid'],
    ['tok_abcdef', 'key tok_abcdef is invalid'],
  ])('replaces the credential-like token %s', (_token, message) => {
    expect(providerMessage(body(message), undefined)).toBe('key [redacted] is invalid');
  });

  it('replaces long token-like strings from 32 characters', () => {
    const long = '0123456789abcdef0123456789abcdef'; // 32
    expect(providerMessage(body(`request ${long} failed`), undefined)).toBe('request [redacted] failed');
    expect(providerMessage(body(`request ${long.slice(1)} failed`), undefined)).toBe(
      `request ${long.slice(1)} failed`,
    );
    expect(providerMessage(body('sk-abc failed'), undefined)).toBe('sk-abc failed'); // 3 after the prefix
  });

  it('collapses whitespace and trims', () => {
    expect(providerMessage(body('  line one\n\n  line\ttwo  '), undefined)).toBe('line one line two');
  });

  it('cuts the message at 300 characters with an ellipsis', () => {
    const words = 'word '.repeat(100).trim(); // 499 characters
    expect(providerMessage(body(words), undefined)).toBe(`${words.slice(0, 300)}…`);
    const exact = `${'word '.repeat(59)}words`;
    expect(exact).toHaveLength(300);
    expect(providerMessage(body(exact), undefined)).toBe(exact);
    expect(providerMessage(body(`${exact}x`), undefined)).toBe(`${exact}…`);
  });

  it('cuts after replacing, so a secret near the cut never shows in part', () => {
    const prefix = 'a '.repeat(145); // 290 characters
    const message = providerMessage(body(`${prefix}sk-ABCDEFGHIJKLMNOPQRSTUVWXYZ`), undefined);
    expect(message).toBe(`${prefix}[redacted]`);
  });
});
