import { describe, expect, it } from 'vitest';

import { checkPath } from './proxy.service.js';
import { fileSegments } from './static-site.service.js';

describe('path checks', () => {
  it.each([
    '/v1/a/../b',
    '/v1/a/./b',
    '/v1/%2E%2e/x',
    '/v1/a%2Fb',
    '/v1/a%5Cb',
    '/v1/a\\b',
    '/v1//a',
    '/v1/%zz',
    '/v1/a%00',
  ])('refuses %s', (path) => {
    expect(() => {
      checkPath(path);
    }).toThrow(expect.objectContaining({ code: 'path_invalid' }) as Error);
  });

  it('accepts ordinary paths and a trailing slash', () => {
    expect(() => {
      checkPath('/v1/agents/a%20b/');
    }).not.toThrow();
  });

  it('keeps static lookups inside the directory', () => {
    expect(fileSegments('/assets/app-1.js')).toEqual(['assets', 'app-1.js']);
    expect(fileSegments('/')).toEqual([]);
    for (const path of ['/../x', '/%2e%2e/x', '/a/%2f', '/.env', '/a%5c..', '/%00'])
      expect(fileSegments(path), path).toBeUndefined();
  });
});
