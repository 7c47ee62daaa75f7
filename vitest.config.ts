import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// Two projects sharing the worker limit: the services and tools on Node (swc, not esbuild: NestJS dependency
// injection needs decorator metadata), and the SPA's component tests in jsdom.
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    projects: [
      {
        plugins: [swc.vite({ jsc: { target: 'es2022' } })],
        resolve: { conditions: ['aibox-source'] },
        ssr: { resolve: { conditions: ['aibox-source'] } },
        test: {
          name: 'node',
          include: [
            'packages/*/src/**/*.spec.ts',
            'packages/*/test/**/*.spec.ts',
            'services/*/src/**/*.spec.ts',
            'services/*/test/**/*.spec.ts',
            'tools/src/**/*.spec.ts',
            'tools/test/**/*.spec.ts',
            'frontend/test/**/*.spec.ts',
          ],
          pool: 'forks',
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      // The SPA's component tests (jsdom, React), configured in frontend/vitest.config.ts.
      'frontend',
    ],
  },
});
