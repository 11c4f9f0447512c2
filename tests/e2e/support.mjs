// What both end-to-end test files need to find tauri-driver, talk to it and read the window.

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";

export function findTauriDriver() {
  const candidates = [
    process.env.TAURI_DRIVER,
    join(process.env.CARGO_HOME ?? join(homedir(), ".cargo"), "bin/tauri-driver"),
    "/root/.cargo/bin/tauri-driver",
  ].filter(Boolean);
  const found = candidates.find((path) => existsSync(path));
  assert.ok(found, `tauri-driver not found (looked in ${candidates.join(", ")}); run make setup`);
  return found;
}

export function portAnswers(port) {
  return new Promise((resolveAnswer) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolveAnswer(true);
    });
    socket.once("error", () => resolveAnswer(false));
  });
}

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** WebDriver screenshots can be a frame stale: let two frames and a moment pass first. */
export async function saveScreenshot(browser, folder, name) {
  await browser.executeAsync((done) =>
    requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 300))),
  );
  mkdirSync(folder, { recursive: true });
  const path = join(folder, `${name}.png`);
  writeFileSync(path, Buffer.from(await browser.takeScreenshot(), "base64"));
  return path;
}

/** An element's text, whitespace collapsed (WebKit's getText skips text inside buttons). */
export async function textOf(element) {
  return (await (await element).getProperty("textContent")).replace(/\s+/g, " ").trim();
}

export const byTestId = (id, name) =>
  name === undefined ? `[data-testid="${id}"]` : `[data-testid="${id}"][data-name="${name}"]`;
