// Build and test configuration for the operator web app.
//
// JSX goes through Vite's own esbuild transform (automatic runtime, Preact),
// so no framework plugin is needed. The built app is served by the API server
// from the same origin; in development `vite` proxies /api to the local stack.
import { defineConfig } from 'vitest/config';
import type { Plugin } from 'vite';

// The page loads only its own scripts and stylesheets. Added at build time
// only: the dev server injects inline styles.
// - style-src allows inline styles because xterm.js (the console terminal)
//   draws with <style> elements and style attributes it makes at run time;
//   scripts stay 'self' only.
// - connect-src adds where console output is fetched from: presigned S3 URLs
//   (any region, path- or virtual-host style) and, on the local stack, moto
//   on the loopback address. Everything else is this origin's API.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self' https://*.amazonaws.com http://127.0.0.1:*",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

function contentSecurityPolicy(): Plugin {
  return {
    name: 'fleetvisor-csp',
    apply: 'build',
    transformIndexHtml: () => [
      {
        tag: 'meta',
        attrs: { 'http-equiv': 'Content-Security-Policy', content: CONTENT_SECURITY_POLICY },
        injectTo: 'head-prepend',
      },
    ],
  };
}

export default defineConfig({
  plugins: [contentSecurityPolicy()],
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8000' },
  },
  build: { outDir: 'dist', emptyOutDir: true },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test/setup.ts'],
    restoreMocks: true,
  },
});
