// End-to-end tests of the real Lifeboat window: the built app, launched by tauri-driver through
// Debian's WebKitWebDriver, driven by WebdriverIO. Run under a display (the Makefile uses
// xvfb-run). Every run saves screenshots to tests/e2e/screenshots/ (ignored by git).

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { remote } from "webdriverio";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const app = process.env.LIFEBOAT_APP ?? join(repo, "target/debug/Lifeboat");
const bundle = join(repo, "src-tauri/resources/postgres");
const screenshots = join(here, "screenshots");

function findTauriDriver() {
  const candidates = [
    process.env.TAURI_DRIVER,
    join(process.env.CARGO_HOME ?? join(homedir(), ".cargo"), "bin/tauri-driver"),
  ].filter(Boolean);
  const found = candidates.find((path) => existsSync(path));
  assert.ok(found, `tauri-driver not found (looked in ${candidates.join(", ")}); run make setup`);
  return found;
}

function portAnswers(port) {
  return new Promise((resolveAnswer) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolveAnswer(true);
    });
    socket.once("error", () => resolveAnswer(false));
  });
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** Starts tauri-driver with `env` (the app inherits it) and opens a session on the app. */
async function launch(env) {
  assert.ok(existsSync(app), `the app binary ${app} is missing; build it first (make build)`);
  const port = await freePort();
  const nativePort = await freePort();
  const driver = spawn(findTauriDriver(), ["--port", String(port), "--native-port", String(nativePort)], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const exited = new Promise((resolveExit) => driver.once("exit", resolveExit));
  for (let attempt = 0; !(await portAnswers(port)); attempt++) {
    if (attempt >= 100 || driver.exitCode !== null) {
      driver.kill();
      assert.fail(`tauri-driver did not start listening on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const browser = await remote({
    hostname: "127.0.0.1",
    port,
    logLevel: "error",
    capabilities: { "tauri:options": { application: app } },
  });
  return {
    browser,
    async close() {
      await browser.deleteSession().catch(() => {});
      driver.kill();
      await exited;
    },
  };
}

/** WebDriver screenshots can be a frame stale: let two frames and a moment pass first. */
async function screenshot(browser, name) {
  await browser.executeAsync((done) =>
    requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 300))),
  );
  mkdirSync(screenshots, { recursive: true });
  const path = join(screenshots, `${name}.png`);
  writeFileSync(path, Buffer.from(await browser.takeScreenshot(), "base64"));
  return path;
}

describe("the Lifeboat window", () => {
  const home = mkdtempSync(join(tmpdir(), "lifeboat-e2e-home-"));
  let session;

  before(async () => {
    session = await launch({ LIFEBOAT_HOME: home });
  });

  after(async () => {
    await session?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("renders the two panes", async () => {
    const { browser } = session;
    assert.equal(await browser.getTitle(), "Lifeboat");
    const heading = await browser.$('[data-testid="welcome"] h1');
    await heading.waitForDisplayed({ timeout: 15000 });
    assert.equal(await heading.getText(), "Welcome to Lifeboat");
    const tree = await browser.$('[data-testid="server-tree"]');
    assert.match(await tree.getText(), /No servers yet/);
  });

  it("shows what the Rust side answered through IPC", async () => {
    const { browser } = session;
    const table = await browser.$('[data-testid="bundled-tools"]');
    await table.waitForDisplayed({ timeout: 15000 });
    const majors = readdirSync(bundle).filter((name) => /^\d+$/.test(name)).sort();
    const rows = await browser.$$('[data-testid="bundled-row"]');
    assert.equal(rows.length, majors.length);
    const firstCells = [];
    for (const row of rows) firstCells.push(await row.$("td").getText());
    assert.deepEqual(firstCells, majors);
    // The data folder comes from LIFEBOAT_HOME, read by the engine: proof of a real round trip.
    assert.equal(await browser.$('[data-testid="data-dir"] code').getText(), home);
    const shot = await screenshot(browser, "main-window");
    assert.ok(existsSync(shot));
  });
});

describe("the Lifeboat window without its PostgreSQL tools", () => {
  const home = mkdtempSync(join(tmpdir(), "lifeboat-e2e-home-"));
  let session;

  before(async () => {
    session = await launch({ LIFEBOAT_HOME: home, LIFEBOAT_PG_BUNDLE: join(home, "no-such-bundle") });
  });

  after(async () => {
    await session?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("explains the problem and what to do", async () => {
    const { browser } = session;
    const alert = await browser.$('[data-testid="error"]');
    await alert.waitForDisplayed({ timeout: 15000 });
    const text = await alert.getText();
    assert.match(text, /bundled PostgreSQL tools were not found/);
    assert.match(text, /no-such-bundle/);
    assert.match(text, /LIFEBOAT_PG_BUNDLE points to a folder without PostgreSQL tools/);
    await screenshot(browser, "tools-missing");
  });
});
