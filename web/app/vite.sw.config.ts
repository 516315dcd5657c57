// Builds the service worker (src/sw.ts) into dist/sw.js: one classic script at the root of the site, so its scope
// is `/` and every browser can run it (module service workers are not everywhere yet). `npm run build` runs this
// after vite.config.ts (which empties dist/ first).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const client = fileURLToPath(new URL('../client/src/index.ts', import.meta.url));

export default defineConfig({
  resolve: { alias: { '@sendjay/client': client } },
  publicDir: false,
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: false,
    sourcemap: false,
    lib: {
      entry: fileURLToPath(new URL('src/sw.ts', import.meta.url)),
      formats: ['iife'],
      name: 'sendjayServiceWorker',
      fileName: () => 'sw.js',
    },
  },
});
