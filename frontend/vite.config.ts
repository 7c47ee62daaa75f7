import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The SPA the gateway serves at `/` (GATEWAY_STATIC_DIR=frontend/dist). Hashed asset names let the gateway
// cache them forever; admin pages are split into their own chunks so the first load stays small.
export default defineConfig({
  plugins: [react()],
  resolve: { conditions: ['aibox-source'] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    assetsDir: 'assets',
    chunkSizeWarningLimit: 600,
  },
  server: {
    // `pnpm --filter @aibox/frontend dev` next to `make dev`: the API through the gateway.
    proxy: { '/v1': 'http://127.0.0.1:8080' },
  },
});
