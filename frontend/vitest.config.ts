import react from '@vitejs/plugin-react';
import { defineProject } from 'vitest/config';

// The SPA's component tests: jsdom and Testing Library. The browser end-to-end test (test/*.e2e.spec.ts) runs
// on Node in the root config's `node` project.
export default defineProject({
  plugins: [react()],
  resolve: { conditions: ['aibox-source'] },
  test: {
    name: 'frontend',
    include: ['src/**/*.spec.{ts,tsx}'],
    environment: 'jsdom',
    setupFiles: ['./src/test-setup.ts'],
    // Longer than the waits inside a test (test-setup.ts), so a slow wait fails with what it waited for.
    testTimeout: 30_000,
  },
});
