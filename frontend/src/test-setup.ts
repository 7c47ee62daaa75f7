import '@testing-library/jest-dom/vitest';

import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';

// `findBy…` and `waitFor` wait for what a user would wait for; Testing Library's 1 s default is too short on
// a busy CI machine running the services' tests beside these. A wait, never an assertion on time.
configure({ asyncUtilTimeout: 10_000 });

afterEach(() => {
  cleanup();
});

// jsdom lacks these browser APIs, which Mantine reads; each stand-in does nothing, as a headless page would.
const noop = (): void => undefined;
Object.defineProperty(window, 'matchMedia', {
  configurable: true,
  value: (query: string) => ({
    matches: false,
    media: query,
    onchange: null,
    addEventListener: noop,
    removeEventListener: noop,
    dispatchEvent: () => false,
  }),
});
Object.defineProperty(window, 'ResizeObserver', {
  configurable: true,
  value: class {
    observe(): void {}
    unobserve(): void {}
    disconnect(): void {}
  },
});
Object.defineProperty(Element.prototype, 'scrollIntoView', { configurable: true, value: noop });
// Mantine's autosize Textarea listens for web fonts loading.
Object.defineProperty(document, 'fonts', {
  configurable: true,
  value: { addEventListener: noop, removeEventListener: noop },
});
