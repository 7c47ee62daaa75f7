import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { renderWithProviders } from '../test-utils.js';
import { Markdown } from './Markdown.js';

const ANSWER = [
  'Run **this**:',
  '',
  '```python',
  'print("hello")',
  '```',
  '',
  '<script>alert(1)</script>',
  '',
  'And a [link](https://example.com), <img src=x onerror="alert(2)"> inline.',
].join('\n');

describe('an answer in Markdown', () => {
  it('highlights code by language and copies exactly the code', async () => {
    const user = userEvent.setup();
    renderWithProviders(<Markdown text={ANSWER} />);

    expect(screen.getByText('this').tagName).toBe('STRONG');
    expect(screen.getByText('python')).toBeInTheDocument();
    expect(document.querySelector('code.hljs.language-python')).not.toBeNull();
    await user.click(screen.getByRole('button', { name: 'Copy code' }));
    expect(await navigator.clipboard.readText()).toBe('print("hello")');
  });

  it('never renders raw HTML, and opens links in a new tab without a referrer', () => {
    renderWithProviders(<Markdown text={ANSWER} />);
    expect(document.querySelector('script')).toBeNull();
    expect(document.querySelector('img')).toBeNull();
    const link = screen.getByRole('link', { name: 'link' });
    expect(link).toHaveAttribute('target', '_blank');
    expect(link.getAttribute('rel')).toContain('noreferrer');
  });
});
