import { describe, expect, it } from 'vitest';

import { ProviderConfigError } from '../errors/provider-config.error.js';
import { normalizeBaseUrl } from './base-url.js';

describe('normalizeBaseUrl', () => {
  it.each([
    [' api.example.com/v1/ ', 'https://api.example.com/v1'],
    ['http://x/v1/chat/completions', 'http://x/v1'],
    ['https://api.openai.com/v1', 'https://api.openai.com/v1'],
    ['https://api.openai.com/v1/', 'https://api.openai.com/v1'],
    ['HTTPS://API.Example.COM/V1/Models', 'https://api.example.com/V1'],
    ['http://127.0.0.1:11434/v1/', 'http://127.0.0.1:11434/v1'],
    ['localhost:8000/v1/responses', 'https://localhost:8000/v1'],
    ['https://gw.example.com/openai/v1/embeddings/', 'https://gw.example.com/openai/v1'],
    ['https://x.example/v1/chat/completions/models', 'https://x.example/v1'],
    ['https://example.com', 'https://example.com'],
    ['\thttps://example.com//\n', 'https://example.com'],
    ['https://[::1]:8080/v1', 'https://[::1]:8080/v1'],
  ])('%j → %s', (input, expected) => {
    expect(normalizeBaseUrl(input)).toBe(expected);
  });

  it.each([
    '',
    '   ',
    'ftp://example.com/v1',
    'javascript:alert(1)',
    'https://user:secret@example.com/v1',
    'https://example.com/v1?key=sk-123',
    'https://example.com/v1#frag',
    'https://',
    'http://exa mple.com',
  ])('refuses %j', (input) => {
    expect(() => normalizeBaseUrl(input)).toThrow(ProviderConfigError);
  });

  it('never echoes credentials it refuses', () => {
    try {
      normalizeBaseUrl('https://user:s3cr3t@example.com/v1');
    } catch (error: unknown) {
      expect(String(error)).not.toContain('s3cr3t');
    }
  });
});
