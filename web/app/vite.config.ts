// Vite builds the app into dist/ (served by the router at `/`, see router/src/web_app.rs).
// `@sendjay/client` is the protocol package next door, imported as source; its own dependencies
// (e.g. @msgpack/msgpack) resolve from web/client/node_modules, so `npm ci` runs in both folders.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

const client = fileURLToPath(new URL('../client/src/index.ts', import.meta.url));

export default defineConfig({
  plugins: [preact()],
  resolve: { alias: { '@sendjay/client': client } },
  server: { fs: { allow: ['..'] } },
  build: {
    target: 'es2022',
    // Hashed file names under assets/ are cached for a year by the router; index.html is never cached.
    assetsDir: 'assets',
    sourcemap: false,
  },
});
