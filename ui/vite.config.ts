/// <reference types="node" />
/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

const lib = fileURLToPath(new URL("./src/lib", import.meta.url));

// Tauri expects a fixed dev port and a plain static build in dist/.
export default defineConfig(({ mode }) => ({
  plugins: [svelte()],
  clearScreen: false,
  resolve: {
    alias: { $lib: lib },
    // Svelte 5 components only mount with the browser build of svelte;
    // without this Vitest resolves the server build and mount() throws.
    conditions: mode === "test" ? ["browser"] : undefined,
  },
  server: {
    port: 1420,
    strictPort: true,
  },
  build: {
    outDir: "dist",
    target: "es2022",
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    setupFiles: ["src/test-setup.ts"],
    restoreMocks: true,
  },
}));
