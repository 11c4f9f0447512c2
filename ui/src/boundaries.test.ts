import { describe, expect, it } from "vitest";

// Only src/lib/ipc/ may talk to Tauri; everything else goes through $lib/ipc.
const sources = import.meta.glob<string>(["/src/**/*.ts", "/src/**/*.svelte", "!/src/**/*.test.ts"], {
  query: "?raw",
  import: "default",
  eager: true,
});

describe("module boundaries", () => {
  const outsideIpc = Object.entries(sources).filter(([path]) => !path.startsWith("/src/lib/ipc/"));

  it("scans the app's source files", () => {
    expect(outsideIpc.map(([path]) => path)).toEqual(
      expect.arrayContaining([
        "/src/App.svelte",
        "/src/main.ts",
        "/src/lib/components/Welcome.svelte",
      ]),
    );
  });

  it("imports @tauri-apps/* and the generated bindings only inside src/lib/ipc/", () => {
    const offenders = outsideIpc
      .filter(([, text]) => /@tauri-apps\/|ipc\/bindings|["']\.\/bindings["']/.test(text))
      .map(([path]) => path);
    expect(offenders).toEqual([]);
  });
});
