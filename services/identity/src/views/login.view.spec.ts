import { describe, expect, it } from 'vitest';

import { escapeHtml, PAGE_CSP } from './html.js';
import { loginPage } from './login.view.js';

describe('login page', () => {
  it('escapes every value it shows', () => {
    const html = loginPage({
      uid: 'abc"><x',
      clientName: '<b>evil</b>',
      email: `"><script>alert('x')</script>`,
      error: '<img src=x>',
    });
    expect(html).not.toMatch(/<script|<b>|<img|"><x/);
    expect(html).toContain('&lt;b&gt;evil&lt;/b&gt;');
    expect(html).toContain('value="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"');
    expect(html).toContain('action="/interaction/abc%22%3E%3Cx/login"');
  });

  it('escapes the five HTML specials', () => {
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
  });

  it('allows no script and no framing', () => {
    expect(PAGE_CSP).toContain("default-src 'none'");
    expect(PAGE_CSP).toContain("frame-ancestors 'none'");
    expect(PAGE_CSP).not.toMatch(/script-src|unsafe-inline/);
  });
});
