// End-to-end tests of the real Lifeboat window: the built app, launched by tauri-driver through
// Debian's WebKitWebDriver, driven by WebdriverIO. Run under a display (the Makefile uses
// xvfb-run). Every run saves screenshots to tests/e2e/screenshots/ (ignored by git).

import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { remote } from "webdriverio";
import { byTestId, findTauriDriver, freePort, portAnswers, saveScreenshot, textOf } from "./support.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const app = process.env.LIFEBOAT_APP ?? join(repo, "target/debug/Lifeboat");
const bundle = join(repo, "src-tauri/resources/postgres");
const screenshots = join(here, "screenshots");




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

const screenshot = (browser, name) => saveScreenshot(browser, screenshots, name);

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
    // The tools table sits in a folded section of the welcome page: unfold it first.
    const summary = await browser.$(".tools-box summary");
    await summary.waitForDisplayed({ timeout: 15000 });
    await summary.click();
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

/** Starts `test-server <major>` (a throwaway PostgreSQL with the demo database `shop`); it stops
 * when its standard input closes. */
async function startTestServer(major) {
  const binary = process.env.LIFEBOAT_TEST_SERVER ?? join(repo, "target/debug/test-server");
  assert.ok(existsSync(binary), `${binary} is missing; build it first (cargo build -p lifeboat-system-tests --bins)`);
  const child = spawn(binary, [String(major)], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
  const ready = await new Promise((resolveReady, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error("test-server did not start within 180 s")), 180_000);
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      const newline = buffered.indexOf("\n");
      if (newline >= 0) {
        clearTimeout(timer);
        resolveReady(JSON.parse(buffered.slice(0, newline)));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`test-server exited early with ${code}`));
    });
  });
  return {
    ...ready,
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill(), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}


describe("connections", () => {
  const home = mkdtempSync(join(tmpdir(), "lifeboat-e2e-home-"));
  let server;
  let session;

  before(async () => {
    server = await startTestServer(18);
    session = await launch({ LIFEBOAT_HOME: home });
  });

  after(async () => {
    await session?.close();
    await server?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  /** Opens the Add server dialog and fills it in (the password stays empty: trust auth). */
  async function fillNewProfile(browser, name, port) {
    await browser.$(byTestId("add-server")).click();
    await browser.$(byTestId("profile-dialog")).waitForDisplayed({ timeout: 10000 });
    await browser.$(byTestId("field-name")).setValue(name);
    await browser.$(byTestId("field-host")).setValue("127.0.0.1");
    await browser.$(byTestId("field-port")).setValue(String(port));
    await browser.$(byTestId("field-user")).setValue("postgres");
  }

  /** Clicks Test connection in the dialog and waits for its result. */
  async function testInDialog(browser) {
    await browser.$(byTestId("test-connection")).click();
    const result = await browser.$(byTestId("test-result"));
    await result.waitForDisplayed({ timeout: 30000 });
    return result;
  }

  async function expand(browser, selector) {
    const toggle = await browser.$(`${selector} button[aria-expanded]`);
    await toggle.click();
    assert.equal(await toggle.getAttribute("aria-expanded"), "true");
  }

  it("adds a profile after a successful test and browses the server", async () => {
    const { browser } = session;
    await browser.$(byTestId("server-tree")).waitForDisplayed({ timeout: 15000 });
    await fillNewProfile(browser, "Local 18", server.port);

    const result = await testInDialog(browser);
    assert.equal(await result.getAttribute("data-ok"), "true", await result.getText());
    assert.match(await result.getText(), /Connected to PostgreSQL 18\.\d+ as postgres/);
    await screenshot(browser, "add-server-tested");

    await browser.$(byTestId("save-profile")).click();
    await browser.$(byTestId("profile-dialog")).waitForExist({ reverse: true, timeout: 10000 });
    const profile = byTestId("profile-node", "Local 18");
    await browser.$(profile).waitForDisplayed({ timeout: 10000 });
    assert.equal(await browser.$(`${profile} ${byTestId("profile-status")}`).getAttribute("data-state"), "unknown");

    await expand(browser, profile);
    const shop = byTestId("database-node", "shop");
    await browser.$(shop).waitForDisplayed({ timeout: 30000 });
    assert.equal(await browser.$(`${profile} ${byTestId("profile-status")}`).getAttribute("data-state"), "ok");
    assert.match(await textOf(browser.$(shop)), /^shop [\d.]+ (kB|MB) postgres · UTF8 last backup: never · last test: never/);

    await expand(browser, shop);
    const sales = byTestId("schema-node", "sales");
    await browser.$(sales).waitForDisplayed({ timeout: 30000 });
    await expand(browser, sales);
    await browser.$(`${sales} ${byTestId("table-node", "orders")}`).waitForDisplayed({ timeout: 30000 });
    const tables = [];
    for (const table of await browser.$$(`${sales} ${byTestId("table-node")}`)) {
      tables.push(await table.getAttribute("data-name"));
    }
    assert.deepEqual(tables, ["customers", "orders"]);
    assert.match(await textOf(browser.$(byTestId("table-node", "orders"))), /^orders ~500 rows · \d+ kB$/);

    // Select the profile and test it: the details pane shows what the server said.
    await browser.$(`${profile} .label`).click();
    await browser.$(`${profile} ${byTestId("profile-test")}`).click();
    const check = await browser.$(byTestId("check-result"));
    await browser.waitUntil(async () => (await check.getAttribute("data-state")) === "ok", { timeout: 30000 });
    assert.match(await check.getText(), /Connected to PostgreSQL 18\.\d+ as postgres — superuser: yes/);
    await screenshot(browser, "connections");
  });

  it("explains a refused connection by its code", async () => {
    const { browser } = session;
    const nowhere = await freePort();
    await fillNewProfile(browser, "Nowhere", nowhere);
    const result = await testInDialog(browser);
    assert.equal(await result.getAttribute("data-ok"), "false");
    assert.equal(await result.getAttribute("data-code"), "connection_refused");
    assert.match(await result.getText(), new RegExp(`port ${nowhere}`));
    await screenshot(browser, "connection-refused");

    // Saved anyway, expanding it shows the same diagnosis under the node and a red dot.
    await browser.$(byTestId("save-profile")).click();
    await browser.$(byTestId("profile-dialog")).waitForExist({ reverse: true, timeout: 10000 });
    const profile = byTestId("profile-node", "Nowhere");
    await browser.$(profile).waitForDisplayed({ timeout: 10000 });
    await expand(browser, profile);
    const error = await browser.$(`${profile} ${byTestId("node-error")}`);
    await error.waitForDisplayed({ timeout: 30000 });
    assert.equal(await error.getAttribute("data-code"), "connection_refused");
    assert.equal(await browser.$(`${profile} ${byTestId("profile-status")}`).getAttribute("data-state"), "failed");
    await screenshot(browser, "connection-error-in-tree");

    // Remove asks first; afterwards only the working profile is left.
    await browser.$(`${profile} .label`).click();
    await browser.$(`${profile} ${byTestId("profile-remove")}`).click();
    const confirm = await browser.$(byTestId("confirm-dialog"));
    await confirm.waitForDisplayed({ timeout: 10000 });
    assert.match(await confirm.getText(), /Remove the profile “Nowhere”\?/);
    await browser.$(byTestId("confirm-remove")).click();
    await browser.$(profile).waitForExist({ reverse: true, timeout: 10000 });
    const names = [];
    for (const node of await browser.$$(byTestId("profile-node"))) names.push(await node.getAttribute("data-name"));
    assert.deepEqual(names, ["Local 18"]);
  });
});

describe("backup wizard", () => {
  const home = mkdtempSync(join(tmpdir(), "lifeboat-e2e-home-"));
  // A fresh folder whose name is all lowercase: after a right-click, WebKitWebDriver types
  // uppercase letters as lowercase, so a mkdtemp name (mixed case) could not be typed.
  const destination = join(tmpdir(), `lifeboat-e2e-backups-${randomBytes(6).toString("hex")}`);
  mkdirSync(destination);
  let server;
  let session;

  before(async () => {
    server = await startTestServer(18);
    session = await launch({ LIFEBOAT_HOME: home });
  });

  after(async () => {
    await session?.close();
    await server?.stop();
    rmSync(home, { recursive: true, force: true });
    rmSync(destination, { recursive: true, force: true });
  });

  it("backs up shop from the tree's context menu and shows checksums that match the files", async () => {
    const { browser } = session;
    await browser.$(byTestId("server-tree")).waitForDisplayed({ timeout: 15000 });

    // A profile for the test server (trust auth: no password).
    await browser.$(byTestId("add-server")).click();
    await browser.$(byTestId("profile-dialog")).waitForDisplayed({ timeout: 10000 });
    await browser.$(byTestId("field-name")).setValue("Local 18");
    await browser.$(byTestId("field-host")).setValue("127.0.0.1");
    await browser.$(byTestId("field-port")).setValue(String(server.port));
    await browser.$(byTestId("field-user")).setValue("postgres");
    await browser.$(byTestId("save-profile")).click();
    await browser.$(byTestId("profile-dialog")).waitForExist({ reverse: true, timeout: 10000 });

    const profile = byTestId("profile-node", "Local 18");
    await browser.$(`${profile} button[aria-expanded]`).click();
    const shop = byTestId("database-node", "shop");
    await browser.$(shop).waitForDisplayed({ timeout: 30000 });
    assert.match(await textOf(browser.$(shop)), /last backup: never/);

    // Right-click → Back up…
    await browser.$(`${shop} .tree-row`).click({ button: "right" });
    const menuItem = await browser.$(byTestId("menu-backup"));
    await menuItem.waitForDisplayed({ timeout: 10000 });
    await screenshot(browser, "backup-context-menu");
    await menuItem.click();
    const wizard = await browser.$(byTestId("backup-wizard"));
    await wizard.waitForDisplayed({ timeout: 10000 });
    assert.equal(await browser.$(byTestId("backup-profile")).getValue(), "Local 18");
    const database = await browser.$(byTestId("backup-database"));
    await browser.waitUntil(async () => (await database.isEnabled()) && (await database.getValue()) === "shop", {
      timeout: 30000,
      timeoutMsg: "the wizard did not preselect shop",
    });

    // The optional scope lists the schemas, all checked (no filter is sent).
    await browser.$(byTestId("backup-scope-toggle")).click();
    const sales = await browser.$(byTestId("backup-schema", "sales"));
    await sales.waitForDisplayed({ timeout: 30000 });
    assert.equal(await sales.$("input").isSelected(), true);
    await screenshot(browser, "backup-wizard-step1");

    // Step 2: the folder is typed (the native picker cannot be automated); Custom stays.
    await browser.$(byTestId("backup-next")).click();
    const folder = await browser.$(byTestId("backup-folder"));
    await folder.waitForDisplayed({ timeout: 10000 });
    await browser.waitUntil(async () => (await folder.getValue()) !== "", {
      timeout: 10000,
      timeoutMsg: "the default folder was not filled in",
    });
    assert.match(await folder.getValue(), /backups$/);
    await folder.clearValue();
    await folder.setValue(destination);
    assert.equal(await folder.getValue(), destination);
    assert.equal(await browser.$(byTestId("backup-format")).getValue(), "custom");
    assert.equal(await browser.$(byTestId("backup-jobs")).isExisting(), false);
    assert.match(
      await textOf(browser.$(byTestId("backup-filename-preview"))),
      /^shop-\d{4}-\d{2}-\d{2}-\d{6}\.backup$/,
    );
    await screenshot(browser, "backup-wizard-step2");

    // Step 3: run, then the summary.
    await browser.$(byTestId("backup-start")).click();
    const summary = await browser.$(byTestId("backup-summary"));
    await browser.waitUntil(
      async () => (await summary.isExisting()) || (await browser.$(byTestId("backup-error")).isExisting()),
      { timeout: 120000, timeoutMsg: "the backup neither finished nor failed" },
    );
    if (!(await summary.isExisting())) assert.fail(`the backup failed: ${await textOf(browser.$(byTestId("backup-error")))}`);

    const files = await browser.$$(byTestId("backup-file"));
    assert.equal(files.length, 1);
    const text = await textOf(files[0]);
    const name = await files[0].getAttribute("data-name");
    assert.match(name, /^shop-\d{4}-\d{2}-\d{2}-\d{6}\.backup$/);
    assert.ok(text.startsWith(name), text);
    const shown = text.match(/\b[0-9a-f]{64}\b/)?.[0];
    assert.ok(shown, `no sha256 in ${text}`);
    await screenshot(browser, "backup-summary");

    // What the summary says is what is on disk.
    const path = join(destination, name);
    assert.ok(existsSync(path), `${path} is missing`);
    assert.equal(createHash("sha256").update(readFileSync(path)).digest("hex"), shown);
    const stem = name.replace(/\.backup$/, "");
    const manifestPath = join(destination, `${stem}.lifeboat.json`);
    assert.ok(existsSync(manifestPath), `${manifestPath} is missing`);
    assert.equal(await textOf(browser.$(byTestId("backup-manifest"))), manifestPath);
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    const rows = (schema, table) => manifest.tables.find((t) => t.schema === schema && t.table === table)?.rows;
    assert.equal(rows("sales", "customers"), 100);
    assert.equal(rows("sales", "orders"), 500);
    assert.deepEqual(
      readdirSync(destination).sort(),
      [name, `${stem}.lifeboat.json`].sort(),
      "only the backup and its manifest are left in the folder",
    );

    // Closed, the tree and the details pane know about the backup.
    await browser.$(byTestId("backup-close")).click();
    await wizard.waitForExist({ reverse: true, timeout: 10000 });
    await browser.waitUntil(async () => !/last backup: never/.test(await textOf(browser.$(shop))), {
      timeout: 15000,
      timeoutMsg: "the tree still says last backup: never",
    });
    const row = await browser.$(byTestId("backup-row"));
    await row.waitForDisplayed({ timeout: 15000 });
    assert.equal(await row.getAttribute("data-status"), "finished");
    assert.match(await textOf(row), /untested/);
    await screenshot(browser, "backup-history");
  });

  // Nested, so that it runs after the backup above, with its server, app and backup.
  describe("restore wizard", () => {
    it("restores the backup from the history into a new dated database with all its rows", async () => {
      const { browser } = session;
      const restore = await browser.$(byTestId("history-restore"));
      await restore.waitForDisplayed({ timeout: 15000 });
      await restore.click();
      const wizard = await browser.$(byTestId("restore-wizard"));
      await wizard.waitForDisplayed({ timeout: 10000 });
      assert.match(await browser.$(byTestId("restore-source")).getValue(), /\.lifeboat\.json$/);
      assert.equal(await browser.$(byTestId("restore-profile")).getValue(), "Local 18");

      // Pre-flight: the plan in plain words, nothing blocks.
      await browser.$(byTestId("restore-check")).click();
      const summary = await browser.$(byTestId("restore-summary"));
      await browser.waitUntil(
        async () => (await summary.isExisting()) || (await browser.$(byTestId("restore-check-error")).isExisting()),
        { timeout: 60000, timeoutMsg: "the pre-flight check neither finished nor failed" },
      );
      if (!(await summary.isExisting())) {
        assert.fail(`the check failed: ${await textOf(browser.$(byTestId("restore-check-error")))}`);
      }
      assert.match(await textOf(summary), /shop_restored_\d{8}/);
      assert.equal(await summary.getAttribute("data-blocked"), "false");
      for (const finding of await browser.$$(byTestId("restore-finding"))) {
        assert.notEqual(await finding.getAttribute("data-severity"), "blocker", await textOf(finding));
      }
      assert.equal(await browser.$(byTestId("restore-target")).getValue(), "");
      await screenshot(browser, "restore-preflight");

      // Run, then the result.
      const start = await browser.$(byTestId("restore-start"));
      assert.equal(await start.isEnabled(), true);
      await start.click();
      const result = await browser.$(byTestId("restore-result"));
      await browser.waitUntil(
        async () => (await result.isExisting()) || (await browser.$(byTestId("restore-error")).isExisting()),
        { timeout: 180000, timeoutMsg: "the restore neither finished nor failed" },
      );
      if (!(await result.isExisting())) assert.fail(`the restore failed: ${await textOf(browser.$(byTestId("restore-error")))}`);
      const database = await result.getAttribute("data-database");
      assert.match(database, /^shop_restored_\d{8}(_\d+)?$/);
      assert.equal(await textOf(browser.$(byTestId("restore-result-database"))), database);
      await screenshot(browser, "restore-result");

      // The new database really holds the data.
      const psql = join(bundle, "18/bin/psql");
      const count = execFileSync(
        psql,
        ["-h", "127.0.0.1", "-p", String(server.port), "-U", "postgres", "-d", database, "-Atc", "select count(*) from sales.orders"],
        { encoding: "utf8", env: { ...process.env, PGCONNECT_TIMEOUT: "10" } },
      ).trim();
      assert.equal(count, "500");

      // Open in tree: the wizard closes and the new database is selected.
      await browser.$(byTestId("restore-open-in-tree")).click();
      await wizard.waitForExist({ reverse: true, timeout: 10000 });
      const node = await browser.$(byTestId("database-node", database));
      await node.waitForDisplayed({ timeout: 30000 });
      const details = await browser.$(byTestId("database-details"));
      await browser.waitUntil(async () => (await textOf(details.$("h1"))) === database, {
        timeout: 15000,
        timeoutMsg: `${database} was not selected`,
      });
    });

    it("restores only what is ticked: the public schema left out", async () => {
      const { browser } = session;
      // Back to shop, whose details list its backups.
      await browser.$(`${byTestId("database-node", "shop")} .tree-row`).click();
      const restore = await browser.$(byTestId("history-restore"));
      await restore.waitForDisplayed({ timeout: 15000 });
      await restore.click();
      const wizard = await browser.$(byTestId("restore-wizard"));
      await wizard.waitForDisplayed({ timeout: 10000 });
      await browser.$(byTestId("restore-check")).click();
      const contents = await browser.$(byTestId("restore-contents"));
      await contents.waitForDisplayed({ timeout: 60000 });
      const publicSchema = await browser.$('[data-testid="restore-contents-schema"][data-schema="public"]');
      await publicSchema.$(byTestId("restore-contents-schema-toggle")).click();
      // Typed without shifted characters: WebKitWebDriver drops Shift after a right-click.
      await browser.$(byTestId("restore-target")).setValue("salesonly");
      await browser.$(byTestId("restore-recheck")).click();
      await browser.waitUntil(async () => !(await browser.$(byTestId("restore-stale")).isExisting()), {
        timeout: 60000,
        timeoutMsg: "the second check did not finish",
      });
      assert.match(await textOf(browser.$(byTestId("restore-summary"))), /leaving out \d+ entr/);
      await screenshot(browser, "restore-selective");
      await browser.$(byTestId("restore-start")).click();
      const result = await browser.$(byTestId("restore-result"));
      await browser.waitUntil(
        async () => (await result.isExisting()) || (await browser.$(byTestId("restore-error")).isExisting()),
        { timeout: 180000, timeoutMsg: "the restore neither finished nor failed" },
      );
      if (!(await result.isExisting())) assert.fail(`the restore failed: ${await textOf(browser.$(byTestId("restore-error")))}`);
      assert.equal(await result.getAttribute("data-database"), "salesonly");
      const psql = join(bundle, "18/bin/psql");
      const tables = execFileSync(
        psql,
        [
          "-h", "127.0.0.1", "-p", String(server.port), "-U", "postgres", "-d", "salesonly", "-Atc",
          "select string_agg(schemaname || '.' || tablename, ',' order by 1) from pg_tables where schemaname in ('public', 'sales')",
        ],
        { encoding: "utf8", env: { ...process.env, PGCONNECT_TIMEOUT: "10" } },
      ).trim();
      assert.equal(tables, "sales.customers,sales.orders");
      await browser.$(byTestId("restore-close")).click();
      await wizard.waitForExist({ reverse: true, timeout: 10000 });
    });
  });

  // Also after the backup: test it (restore drill) from the backups list, on the same server
  // (the app runs as root here, so the practice server is refused and says why).
  describe("backup test wizard", () => {
    it("tests the backup from the history and shows the certificate", async () => {
      const { browser } = session;
      await browser.$(`${byTestId("database-node", "shop")} .tree-row`).click();
      const test = await browser.$(byTestId("history-test"));
      await test.waitForDisplayed({ timeout: 15000 });
      await test.click();
      const wizard = await browser.$(byTestId("drill-wizard"));
      await wizard.waitForDisplayed({ timeout: 10000 });
      assert.match(await browser.$(byTestId("drill-source")).getValue(), /\.lifeboat\.json$/);
      const server = await browser.$(byTestId("drill-where-profile"));
      if (process.getuid?.() === 0) {
        // As root the practice server cannot run: the wizard says why and offers the servers.
        await browser.waitUntil(async () => await server.isSelected(), {
          timeout: 10000,
          timeoutMsg: "the wizard did not fall back to one of my servers",
        });
        assert.match(await textOf(browser.$(byTestId("drill-practice-problem"))), /root/);
      } else {
        await server.click();
      }
      assert.equal(await browser.$(byTestId("drill-profile")).getValue(), "Local 18");
      await browser.$(byTestId("drill-next")).click();
      await browser.$(byTestId("drill-checks")).waitForDisplayed({ timeout: 10000 });
      await browser.$(byTestId("drill-add-check")).click();
      await browser.$(byTestId("drill-check-sql")).setValue("select id from sales.orders limit 1");
      await screenshot(browser, "drill-checks");
      await browser.$(byTestId("drill-start")).click();
      const result = await browser.$(byTestId("drill-result"));
      await browser.waitUntil(
        async () => (await result.isExisting()) || (await browser.$(byTestId("drill-error")).isExisting()),
        { timeout: 180000, timeoutMsg: "the drill neither finished nor failed" },
      );
      if (!(await result.isExisting())) assert.fail(`the drill failed to run: ${await textOf(browser.$(byTestId("drill-error")))}`);
      await screenshot(browser, "drill-result");
      assert.equal(await result.getAttribute("data-passed"), "true", await textOf(result));
      const steps = await browser.$$(byTestId("drill-step"));
      assert.equal(steps.length, 6);
      const smoke = await browser.$('[data-testid="drill-step"][data-kind="smoke_checks"]');
      assert.equal(await smoke.getAttribute("data-status"), "passed");

      // The certificate is on disk next to the backup, readable offline.
      const certificate = (await textOf(browser.$(byTestId("drill-certificate")))).match(/(\/\S+\.html)/)[1];
      const html = readFileSync(certificate, "utf8");
      assert.match(html, /PASSED/);
      assert.match(html, /select id from sales\.orders limit 1/);

      // Closed: the backups list shows the backup as tested.
      await browser.$(byTestId("drill-close")).click();
      await wizard.waitForExist({ reverse: true, timeout: 10000 });
      await browser.waitUntil(
        async () => (await browser.$('[data-test="tested-ok"]').isExisting()),
        { timeout: 15000, timeoutMsg: "the backups list does not show the test" },
      );
    });
  });
});

// The watch and the schedule editor: a real backup (made with the real CLI on the same data
// folder), a reminder limit of 0 days for untested backups set in the app, then the fix button
// and a schedule saved in the app that `lifeboat schedule list` shows. The scheduler is systemd
// user units written into this test's own config folder (no systemd manager runs here).
describe("needs attention and schedules", () => {
  const home = mkdtempSync(join(tmpdir(), "lifeboat-e2e-home-"));
  const config = join(home, "config");
  const cli = join(repo, "target/debug/lifeboat");
  const env = { LIFEBOAT_HOME: home, LIFEBOAT_SCHEDULER: "systemd", XDG_CONFIG_HOME: config };
  let server;
  let session;
  let manifestPath;

  const lifeboat = (args) =>
    execFileSync(cli, args, { encoding: "utf8", env: { ...process.env, ...env }, timeout: 120_000 });

  before(async () => {
    assert.ok(existsSync(cli), `${cli} is missing; build it first (make build)`);
    server = await startTestServer(18);
    session = await launch(env);
  });

  after(async () => {
    await session?.close();
    await server?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it("shows an untested backup in Needs attention; its fix button opens the test wizard", async () => {
    const { browser } = session;
    await browser.$(byTestId("server-tree")).waitForDisplayed({ timeout: 15000 });
    await browser.$(byTestId("add-server")).click();
    await browser.$(byTestId("profile-dialog")).waitForDisplayed({ timeout: 10000 });
    await browser.$(byTestId("field-name")).setValue("Local 18");
    await browser.$(byTestId("field-host")).setValue("127.0.0.1");
    await browser.$(byTestId("field-port")).setValue(String(server.port));
    await browser.$(byTestId("field-user")).setValue("postgres");
    await browser.$(byTestId("save-profile")).click();
    await browser.$(byTestId("profile-dialog")).waitForExist({ reverse: true, timeout: 10000 });

    // A real backup of shop, by the command line on the app's data folder.
    const outcome = JSON.parse(lifeboat(["backup", "--profile", "Local 18", "--database", "shop", "--json"]));
    manifestPath = outcome.manifestPath;
    assert.ok(existsSync(manifestPath), `${manifestPath} is missing`);

    const profile = byTestId("profile-node", "Local 18");
    await browser.$(`${profile} button[aria-expanded]`).click();
    const shop = byTestId("database-node", "shop");
    await browser.$(shop).waitForDisplayed({ timeout: 30000 });
    await browser.$(`${shop} .label`).click();
    const details = await browser.$(byTestId("database-details"));
    await details.waitForDisplayed({ timeout: 10000 });

    // Fresh, the backup is not overdue for a test: nothing needs attention yet.
    const panel = await details.$(byTestId("needs-attention"));
    await browser.waitUntil(async () => (await panel.getAttribute("data-state")) === "ready", {
      timeout: 15000,
      timeoutMsg: "the panel did not load",
    });
    assert.equal(await panel.getAttribute("data-count"), "0");
    assert.match(await textOf(details.$(byTestId("readiness"))), /No backup of this database has passed a test yet/);

    // Remind about untested backups after 0 days: the backup needs a test now.
    await details.$(`${byTestId("watch-limits")} summary`).click();
    await details.$(byTestId("limit-untested-days")).setValue("0");
    await details.$(byTestId("limits-save")).click();
    await browser.waitUntil(async () => (await panel.getAttribute("data-count")) === "1", {
      timeout: 15000,
      timeoutMsg: "the untested backup did not show in Needs attention",
    });
    const item = await panel.$(byTestId("attention-item"));
    assert.equal(await item.getAttribute("data-code"), "untested_backup");
    assert.match(await textOf(item), /shop/);
    await screenshot(browser, "needs-attention-database");

    // The welcome page lists it too, with the readiness line of each database.
    await browser.$(byTestId("home")).click();
    const welcome = await browser.$(`${byTestId("welcome")} ${byTestId("attention-item")}`);
    await welcome.waitForDisplayed({ timeout: 15000 });
    assert.equal(await welcome.getAttribute("data-database"), "shop");
    await screenshot(browser, "needs-attention-welcome");

    // Its fix button opens the test wizard on that backup.
    const fix = await welcome.$(byTestId("attention-fix"));
    assert.equal(await fix.getAttribute("data-action"), "test_backup");
    await fix.click();
    const wizard = await browser.$(byTestId("drill-wizard"));
    await wizard.waitForDisplayed({ timeout: 10000 });
    assert.equal(await browser.$(byTestId("drill-source")).getValue(), manifestPath);
    await browser.$(byTestId("drill-close")).click();
    await wizard.waitForExist({ reverse: true, timeout: 10000 });
  });

  it("saves a schedule in the editor that lifeboat schedule list shows", async () => {
    const { browser } = session;
    const shop = byTestId("database-node", "shop");
    await browser.$(`${shop} .label`).click();
    await browser.$(byTestId("details-schedule")).click();
    const editor = await browser.$(byTestId("schedule-editor"));
    await editor.waitForDisplayed({ timeout: 10000 });
    await browser.waitUntil(async () => /No schedules yet/.test(await textOf(browser.$(byTestId("schedule-list")))), {
      timeout: 10000,
      timeoutMsg: "the editor did not list the schedules",
    });
    const time = await browser.$(byTestId("schedule-time"));
    await time.clearValue();
    await time.setValue("03:15");
    await browser.$(byTestId("schedule-save")).click();
    const entry = await browser.$(byTestId("schedule-entry"));
    await browser.waitUntil(
      async () => (await entry.isExisting()) || (await browser.$(byTestId("schedule-error")).isExisting()),
      { timeout: 30000, timeoutMsg: "the schedule was neither saved nor refused" },
    );
    if (!(await entry.isExisting())) assert.fail(`saving failed: ${await textOf(browser.$(byTestId("schedule-error")))}`);
    assert.equal(await entry.getAttribute("data-installed"), "true");
    assert.match(await textOf(entry), /OnCalendar=\*-\*-\* 03:15:00/);
    assert.match(await textOf(entry), /schedule run lifeboat-local-18-shop/);
    const row = await browser.$(byTestId("schedule-row", "lifeboat-local-18-shop"));
    await row.waitForDisplayed({ timeout: 10000 });
    await screenshot(browser, "schedule-editor");

    // The command line sees the schedule the app saved, and the unit is in the config folder.
    const listed = JSON.parse(lifeboat(["schedule", "list", "--json"]));
    const saved = listed.find((s) => s.name === "lifeboat-local-18-shop");
    assert.ok(saved, JSON.stringify(listed));
    assert.equal(saved.database, "shop");
    assert.equal(saved.profile, "Local 18");
    assert.equal(saved.time, "03:15");
    assert.equal(saved.days, "daily");
    assert.ok(existsSync(join(config, "systemd/user/lifeboat-local-18-shop.timer")));

    // Remove asks first, then the scheduler entry and the schedule are gone.
    await row.$(byTestId("schedule-remove")).click();
    await row.$(byTestId("schedule-remove-yes")).click();
    await browser.waitUntil(async () => /No schedules yet/.test(await textOf(browser.$(byTestId("schedule-list")))), {
      timeout: 15000,
      timeoutMsg: "the schedule was not removed",
    });
    assert.deepEqual(JSON.parse(lifeboat(["schedule", "list", "--json"])), []);
    assert.ok(!existsSync(join(config, "systemd/user/lifeboat-local-18-shop.timer")));
    await browser.$(byTestId("schedule-close")).click();
    await editor.waitForExist({ reverse: true, timeout: 10000 });
  });
});
