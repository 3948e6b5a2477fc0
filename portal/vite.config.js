// The portal page: built by scripts/build.sh into portal/dist/, which the Worker serves under
// /_keygate/portal/ from its static assets (wrangler.toml [assets]). No dev server is used.
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "/_keygate/portal/",
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    modulePreload: { polyfill: false },
    // Every file is its own request: a data: URI would need a looser Content-Security-Policy.
    assetsInlineLimit: 0,
    target: "es2022",
  },
});
