import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// swc, not esbuild: NestJS dependency injection needs decorator metadata.
export default defineConfig({
  plugins: [swc.vite({ jsc: { target: 'es2022' } })],
  resolve: { conditions: ['aibox-source'] },
  ssr: { resolve: { conditions: ['aibox-source'] } },
  test: {
    include: [
      'packages/*/src/**/*.spec.ts',
      'packages/*/test/**/*.spec.ts',
      'services/*/src/**/*.spec.ts',
      'services/*/test/**/*.spec.ts',
      'tools/src/**/*.spec.ts',
      'tools/test/**/*.spec.ts',
    ],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
