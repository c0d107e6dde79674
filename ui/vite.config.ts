import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The UI is served by Tauri from ui/dist (tauri.conf.json `build.frontendDist`); no dev server URL
// is configured, so debug builds of the app embed the built UI too.
export default defineConfig({
  plugins: [react()],
  base: "./",
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
  },
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
