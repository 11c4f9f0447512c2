// The first run without a server of one's own, through the real window: the welcome page's
// "Try it on a practice database", the Practice profile in the tree, a backup of its sample
// database with the backup wizard, a test of that backup with the test wizard, and a restore
// into a new database with the restore wizard. The screenshots of each step are the user
// guide's images (docs/guide/screenshots/, committed).
//
// PostgreSQL, and so the practice server, refuses to run as root. When the test runs as root (as
// CI does), the whole window runs as the unprivileged test user `lifeboat-test` (the Rust test
// harness's user, created here the same way when missing): its own X server (Xvfb on a free
// display number, no TCP), tauri-driver, WebKitWebDriver and the app, with a data folder and a
// HOME that user owns. Run as a normal user, it uses the display it was given.
//
// Then, on the same data: the dashboard of the sample database (its last backup and passing
// test, the certificate), Recover from the dashboard (plan, restore next to the live database,
// swap), the Backups view with its badges, the Activity view with a job's log, and the Add
// server dialog testing a connection (to the practice server, then cancelled).
//
// Each step is one `it` of one `describe`, sharing one window and one data folder: a later step
// is appended as another `it` at the end.

import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { remote } from "webdriverio";
import { byTestId, findTauriDriver, freePort, portAnswers, saveScreenshot, textOf } from "./support.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
// The built programs and the PostgreSQL bundle; copied where the test user can reach them when
// the checkout is in a folder it cannot enter (see `reachable`).
let app = process.env.LIFEBOAT_APP ?? join(repo, "target/debug/Lifeboat");
let cli = join(repo, "target/debug/lifeboat");
let bundle = join(repo, "src-tauri/resources/postgres");
const screenshots = join(repo, "docs/guide/screenshots");

/** The Rust harness's unprivileged user (tests/src/pg.rs). */
const TEST_USER = "lifeboat-test";
const asRoot = process.getuid?.() === 0;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function ensureTestUser() {
  try {
    execFileSync("id", ["-u", TEST_USER], { stdio: "ignore" });
  } catch {
    execFileSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", TEST_USER]);
  }
}

/** `argv` as the test user when running as root, with exactly `env` added. */
function commandAsUser(argv, env) {
  const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  // The caller's session bus belongs to root: the user gets none of it.
  const envArgs = ["-u", "DBUS_SESSION_BUS_ADDRESS", ...assignments];
  return asRoot
    ? ["runuser", ["-u", TEST_USER, "--", "env", ...envArgs, ...argv]]
    : ["env", [...envArgs, ...argv]];
}

/** Whether every folder above `path`, and `path` itself, lets other users through. */
function traversableByOthers(path) {
  for (let p = resolve(path); ; p = dirname(p)) {
    if ((statSync(p).mode & 0o001) === 0) return false;
    if (p === dirname(p)) return true;
  }
}

/**
 * `path` where the test user can run it: itself when every folder above it lets others through,
 * else a copy under `folder` (a clone inside `mktemp -d` is 0700 root). The Rust harness does the
 * same for its servers (tests/src/pg.rs, `reachable_bundle`).
 */
function reachable(path, folder) {
  if (!asRoot || traversableByOthers(path)) return path;
  const copy = join(folder, path.split("/").pop());
  cpSync(path, copy, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  return copy;
}

/** Runs the `lifeboat` command line as the app's user on the app's data folder. */
function lifeboat(env, args) {
  const [program, argv] = commandAsUser([cli, ...args], env);
  return execFileSync(program, argv, { encoding: "utf8", timeout: 120_000 });
}




/** The pids of `pid`'s descendants (children first found, deepest last), from /proc. */
function descendants(pid) {
  const parents = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // Gone meanwhile.
    }
  }
  const found = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift();
    for (const [child, ppid] of parents) {
      if (ppid === parent) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

/** Ends a process this test started, and what it started, by their ids. */
async function endTree(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  const pids = [...descendants(child.pid).reverse(), child.pid];
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // Already gone.
    }
  }
  const timer = setTimeout(() => {
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }, 10_000);
  await exited;
  clearTimeout(timer);
}

/** An X server for the test user: Xvfb as that user on a free display, no TCP. */
async function startDisplay(env) {
  let number = 90;
  while (existsSync(`/tmp/.X11-unix/X${number}`) || existsSync(`/tmp/.X${number}-lock`)) number++;
  const [program, argv] = commandAsUser(
    ["Xvfb", `:${number}`, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
    env,
  );
  const child = spawn(program, argv, { stdio: ["ignore", "ignore", "inherit"] });
  for (let attempt = 0; !existsSync(`/tmp/.X11-unix/X${number}`); attempt++) {
    if (attempt >= 100 || child.exitCode !== null) {
      await endTree(child);
      assert.fail(`Xvfb did not start on :${number}`);
    }
    await sleep(100);
  }
  return { display: `:${number}`, stop: () => endTree(child) };
}

/** Starts tauri-driver (and through it the app) as the test user and opens a session. */
async function launch(env, driverBinary) {
  assert.ok(existsSync(app), `the app binary ${app} is missing; build it first (make build)`);
  const port = await freePort();
  const nativePort = await freePort();
  const driverArgv = [driverBinary, "--port", String(port), "--native-port", String(nativePort)];
  const withBus = existsSync("/usr/bin/dbus-run-session") ? ["dbus-run-session", "--", ...driverArgv] : driverArgv;
  const [program, argv] = commandAsUser(withBus, env);
  const driver = spawn(program, argv, { stdio: ["ignore", "inherit", "inherit"] });
  for (let attempt = 0; !(await portAnswers(port)); attempt++) {
    if (attempt >= 150 || driver.exitCode !== null) {
      await endTree(driver);
      assert.fail(`tauri-driver did not start listening on port ${port}`);
    }
    await sleep(100);
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
      await endTree(driver);
    },
  };
}

const screenshot = (browser, name) => saveScreenshot(browser, screenshots, name);


/** Waits until `selector` exists, or `failure` does (then fails with its text). */
async function outcome(browser, selector, failure, timeout, what) {
  const found = await browser.$(selector);
  await browser.waitUntil(async () => (await found.isExisting()) || (await browser.$(failure).isExisting()), {
    timeout,
    timeoutMsg: `${what} neither finished nor failed`,
  });
  if (!(await found.isExisting())) assert.fail(`${what} failed: ${await textOf(browser.$(failure))}`);
  return found;
}

/** Shows the Servers view with `name`'s dashboard (a database of the tree, already listed). */
async function selectDatabase(browser, name) {
  await browser.$(byTestId("view-servers")).click();
  const row = await browser.$(`${byTestId("database-node", name)} .tree-row`);
  // After a reload the tree starts folded.
  const practice = await browser.$(byTestId("profile-node", "Practice"));
  await practice.waitForDisplayed({ timeout: 30000 });
  if ((await practice.getAttribute("aria-expanded")) !== "true" && !(await row.isExisting())) {
    await practice.$(byTestId("profile-toggle")).click();
  }
  await row.waitForDisplayed({ timeout: 30000 });
  await row.click();
  const details = await browser.$(byTestId("database-details"));
  await browser.waitUntil(async () => (await details.isExisting()) && (await textOf(details.$("h1"))) === name, {
    timeout: 15000,
    timeoutMsg: `${name}'s dashboard did not open`,
  });
  return details;
}

describe("first run without a server: the practice database", () => {
  // Lowercase only: WebKitWebDriver may type capitals as small letters.
  const work = join(tmpdir(), `lifeboat-first-run-${randomBytes(6).toString("hex")}`);
  const home = join(work, "data");
  const env = {
    HOME: join(work, "home"),
    XDG_CONFIG_HOME: join(work, "home/.config"),
    XDG_CACHE_HOME: join(work, "home/.cache"),
    XDG_DATA_HOME: join(work, "home/.local/share"),
    XDG_RUNTIME_DIR: join(work, "runtime"),
    LIFEBOAT_HOME: home,
    LIFEBOAT_PG_BUNDLE: bundle,
    NO_AT_BRIDGE: "1",
  };
  /** What the steps hand on: the backup's manifest, the restored database. */
  const made = {};
  let display;
  let session;

  /** `sql`'s answer in `database` of the practice server, with the bundled psql as its superuser. */
  function practicePsql(database, sql) {
    const profile = JSON.parse(lifeboat(env, ["profile", "list", "--json"]))[0].settings;
    const password = readFileSync(join(home, "practice/sample/password"), "utf8").trim();
    const major = readFileSync(join(home, "practice/sample/data/PG_VERSION"), "utf8").trim();
    return execFileSync(
      join(bundle, `${major}/bin/psql`),
      ["-h", "127.0.0.1", "-p", String(profile.port), "-U", "lifeboat", "-d", database, "-XAtc", sql],
      { encoding: "utf8", env: { PATH: process.env.PATH, PGPASSWORD: password, PGCONNECT_TIMEOUT: "10" } },
    ).trim();
  }

  before(async () => {
    assert.ok(existsSync(cli), `${cli} is missing; build it first (make build)`);
    for (const dir of [work, env.HOME, env.XDG_RUNTIME_DIR, join(work, "bin")]) mkdirSync(dir, { recursive: true });
    chmodSync(env.XDG_RUNTIME_DIR, 0o700);
    // tauri-driver from root's cargo folder, where the test user cannot reach it.
    const driver = join(work, "bin/tauri-driver");
    copyFileSync(findTauriDriver(), driver);
    chmodSync(driver, 0o755);
    if (asRoot) {
      ensureTestUser();
      const programs = join(work, "programs");
      mkdirSync(programs, { recursive: true });
      app = reachable(app, programs);
      cli = reachable(cli, programs);
      bundle = reachable(bundle, programs);
      env.LIFEBOAT_PG_BUNDLE = bundle;
      execFileSync("chown", ["-R", `${TEST_USER}:`, work]);
      chmodSync(work, 0o755);
      display = await startDisplay(env);
      env.DISPLAY = display.display;
    } else {
      assert.ok(process.env.DISPLAY, "no DISPLAY: run under xvfb-run");
      env.DISPLAY = process.env.DISPLAY;
    }
    session = await launch(env, driver);
  });

  after(async () => {
    await session?.close();
    // The practice database's server outlives the window by design: stopped here.
    if (existsSync(join(home, "practice/sample/data/postmaster.pid"))) {
      try {
        lifeboat(env, ["practice", "stop"]);
      } catch (error) {
        console.error(`could not stop the practice server: ${error}`);
      }
    }
    await display?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("lands on the welcome page with two ways to start", async () => {
    const { browser } = session;
    const heading = await browser.$(`${byTestId("welcome")} h1`);
    await heading.waitForDisplayed({ timeout: 20000 });
    assert.equal(await heading.getText(), "Welcome to Lifeboat");
    const connect = await browser.$(byTestId("path-connect"));
    await connect.waitForDisplayed({ timeout: 15000 });
    assert.match(await textOf(connect), /Connect to my server/);
    const practice = await browser.$(byTestId("path-practice"));
    assert.match(await textOf(practice), /Try it on a practice database/);
    // As a normal user the practice database is offered, not the root note.
    assert.equal(await browser.$(byTestId("practice-as-root")).isExisting(), false);
    assert.equal(await browser.$(byTestId("welcome-try-practice")).isEnabled(), true);
    await screenshot(browser, "first-run");
  });

  it("sets up the practice database: Practice appears in the tree with its sample database", async () => {
    const { browser } = session;
    await browser.$(byTestId("welcome-try-practice")).click();
    const profile = await browser.$(byTestId("profile-node", "Practice"));
    await browser.waitUntil(
      async () => (await profile.isExisting()) || (await browser.$(byTestId("practice-error")).isExisting()),
      { timeout: 120000, timeoutMsg: "the practice database was neither set up nor refused" },
    );
    if (!(await profile.isExisting())) assert.fail(`setup failed: ${await textOf(browser.$(byTestId("practice-error")))}`);
    const shop = await browser.$(byTestId("database-node", "shop"));
    await shop.waitForDisplayed({ timeout: 30000 });
    const details = await browser.$(byTestId("database-details"));
    await browser.waitUntil(async () => (await details.isExisting()) && (await textOf(details.$("h1"))) === "shop", {
      timeout: 15000,
      timeoutMsg: "shop was not selected",
    });
    // The command line sees the same profile, headless: its password is not in a keychain.
    const profiles = JSON.parse(lifeboat(env, ["profile", "list", "--json"]));
    assert.deepEqual(
      profiles.map((p) => [p.settings.name, p.settings.passwordSource]),
      [["Practice", "practice"]],
    );
    await screenshot(browser, "practice-ready");
  });

  it("backs up the sample database with the backup wizard", async () => {
    const { browser } = session;
    await browser.$(byTestId("toolbar-backup")).click();
    const wizard = await browser.$(byTestId("backup-wizard"));
    await wizard.waitForDisplayed({ timeout: 10000 });
    assert.equal(await browser.$(byTestId("backup-profile")).getValue(), "Practice");
    const database = await browser.$(byTestId("backup-database"));
    await browser.waitUntil(async () => (await database.isEnabled()) && (await database.getValue()) === "shop", {
      timeout: 30000,
      timeoutMsg: "the wizard did not preselect shop",
    });
    await screenshot(browser, "backup-1-what");

    await browser.$(byTestId("backup-next")).click();
    const folder = await browser.$(byTestId("backup-folder"));
    await folder.waitForDisplayed({ timeout: 10000 });
    await browser.waitUntil(async () => (await folder.getValue()) !== "", {
      timeout: 10000,
      timeoutMsg: "the default folder was not filled in",
    });
    assert.equal(await folder.getValue(), join(home, "backups"));
    await screenshot(browser, "backup-2-where");

    await browser.$(byTestId("backup-start")).click();
    await outcome(browser, byTestId("backup-summary"), byTestId("backup-error"), 120000, "the backup");
    made.manifest = await textOf(browser.$(byTestId("backup-manifest")));
    assert.match(made.manifest, /\/backups\/shop-\d{4}-\d{2}-\d{2}-\d{6}\.lifeboat\.json$/);
    const manifest = JSON.parse(readFileSync(made.manifest, "utf8"));
    const rows = Object.fromEntries(manifest.tables.map((t) => [t.table, t.rows]));
    assert.equal(manifest.tables.length, 13);
    assert.equal(rows.orders, 1000);
    assert.equal(rows.order_items, 2500);
    assert.equal(rows.order_status_history, 1600);
    await screenshot(browser, "backup-3-done");
  });

  it("tests the backup with the test wizard: it passes", async () => {
    const { browser } = session;
    // Straight from the finished backup.
    await browser.$(byTestId("backup-test-now")).click();
    const wizard = await browser.$(byTestId("drill-wizard"));
    await wizard.waitForDisplayed({ timeout: 10000 });
    assert.equal(await browser.$(byTestId("drill-source")).getValue(), made.manifest);
    const practice = await browser.$(byTestId("drill-where-practice"));
    await browser.waitUntil(async () => (await practice.isEnabled()) && (await practice.isSelected()), {
      timeout: 10000,
      timeoutMsg: "the practice server is not chosen",
    });
    await screenshot(browser, "test-1-backup");

    await browser.$(byTestId("drill-next")).click();
    await browser.$(byTestId("drill-checks")).waitForDisplayed({ timeout: 10000 });
    await browser.$(byTestId("drill-add-check")).click();
    await browser.$(byTestId("drill-check-sql")).setValue("select id from orders where status = 'delivered'");
    await screenshot(browser, "test-2-checks");

    await browser.$(byTestId("drill-start")).click();
    const result = await outcome(browser, byTestId("drill-result"), byTestId("drill-error"), 180000, "the test");
    assert.equal(await result.getAttribute("data-passed"), "true", await textOf(result));
    const smoke = await browser.$('[data-testid="drill-step"][data-kind="smoke_checks"]');
    assert.equal(await smoke.getAttribute("data-status"), "passed");
    const certificate = (await textOf(browser.$(byTestId("drill-certificate")))).match(/(\/\S+\.html)/)[1];
    assert.match(readFileSync(certificate, "utf8"), /PASSED/);
    await screenshot(browser, "test-3-passed");

    await browser.$(byTestId("drill-close")).click();
    await wizard.waitForExist({ reverse: true, timeout: 10000 });
  });

  it("restores the backup into a new database on the practice server with the restore wizard", async () => {
    const { browser } = session;
    await browser.$(`${byTestId("database-node", "shop")} .tree-row`).click();
    await browser.$(byTestId("topbar-restore")).click();
    const wizard = await browser.$(byTestId("restore-wizard"));
    await wizard.waitForDisplayed({ timeout: 10000 });
    const source = await browser.$(byTestId("restore-source"));
    if ((await source.getValue()) !== made.manifest) {
      await source.clearValue();
      await source.setValue(made.manifest);
    }
    assert.equal(await browser.$(byTestId("restore-profile")).getValue(), "Practice");
    await screenshot(browser, "restore-1-source");

    await browser.$(byTestId("restore-check")).click();
    const summary = await outcome(
      browser,
      byTestId("restore-summary"),
      byTestId("restore-check-error"),
      60000,
      "the pre-flight check",
    );
    assert.match(await textOf(summary), /shop_restored_\d{8}/);
    assert.equal(await summary.getAttribute("data-blocked"), "false");
    await screenshot(browser, "restore-2-plan");

    await browser.$(byTestId("restore-start")).click();
    const result = await outcome(browser, byTestId("restore-result"), byTestId("restore-error"), 180000, "the restore");
    made.restored = await result.getAttribute("data-database");
    assert.match(made.restored, /^shop_restored_\d{8}(_\d+)?$/);
    await screenshot(browser, "restore-3-done");

    // The new database holds the sample's rows: counted with psql as the practice superuser.
    assert.equal(practicePsql(made.restored, "select count(*) from orders"), "1000");
    assert.equal(practicePsql(made.restored, "select count(*) from order_status_history"), "1600");

    await browser.$(byTestId("restore-open-in-tree")).click();
    await wizard.waitForExist({ reverse: true, timeout: 10000 });
    await browser.$(byTestId("database-node", made.restored)).waitForDisplayed({ timeout: 30000 });
  });

  it("shows the dashboard of shop: its last backup, and the test that passed", async () => {
    const { browser } = session;
    await selectDatabase(browser, "shop");
    const details = await browser.$(byTestId("database-details"));
    await browser.waitUntil(async () => (await details.getAttribute("data-overview")) === "ready", {
      timeout: 30000,
      timeoutMsg: "the dashboard's facts did not load",
    });
    assert.notEqual(await textOf(browser.$(byTestId("last-backup"))), "never");
    assert.match(await textOf(browser.$(byTestId("dashboard-last-backup"))), /test passed/);
    const test = await browser.$(byTestId("dashboard-last-test"));
    assert.equal(await test.getAttribute("data-passed"), "true", await textOf(test));
    assert.match(await textOf(test), /^Passed .* on the practice server/);
    assert.match(await textOf(browser.$(byTestId("dashboard-kept"))), /^1 backup,/);
    await screenshot(browser, "dashboard");
  });

  it("names the test's certificate on the dashboard; the certificate itself says PASSED", async () => {
    const { browser } = session;
    // The dashboard shows the path with the "Open certificate" button. That button hands the
    // file to the desktop's browser, a program this test would leave running: the path is
    // checked instead, and the certificate is shown in the app's own web view for its picture.
    made.certificate = await textOf(browser.$(`${byTestId("dashboard-certificate-path")} code`));
    assert.match(made.certificate, /^\/\S+\/backups\/shop-\S+\.drill-\d{8}-\d{6}\.html$/);
    assert.equal(await browser.$(byTestId("dashboard-open-certificate")).isDisplayed(), true);
    const appUrl = await browser.getUrl();
    await browser.url(`file://${made.certificate}`);
    try {
      const body = await browser.$("body");
      await browser.waitUntil(async () => /PASSED/.test(await textOf(body)), {
        timeout: 10000,
        timeoutMsg: "the certificate does not say PASSED",
      });
      assert.match(await textOf(body), /shop/);
      await screenshot(browser, "certificate");
    } finally {
      // Back to the app (a fresh page: the tree reloads from the data folder).
      await browser.url(appUrl);
    }
    await browser.$(byTestId("profile-node", "Practice")).waitForDisplayed({ timeout: 30000 });
  });

  it("recovers shop from the dashboard: plan, restore next to it, swap", async () => {
    const { browser } = session;
    // The bad day: a table of shop loses its rows after the backup.
    practicePsql("shop", "delete from order_status_history");
    assert.equal(practicePsql("shop", "select count(*) from order_status_history"), "0");
    await selectDatabase(browser, "shop");
    await browser.$(byTestId("dashboard-recover")).click();
    const wizard = await browser.$(byTestId("recover-wizard"));
    await wizard.waitForDisplayed({ timeout: 10000 });
    const plan = await browser.$(byTestId("recover-plan"));
    await browser.waitUntil(async () => (await plan.getAttribute("data-state")) !== "loading", {
      timeout: 60000,
      timeoutMsg: "Recover's plan did not come",
    });
    assert.equal(await plan.getAttribute("data-state"), "ready", await textOf(plan));
    // The one backup, which passed its test, with what restoring it loses.
    assert.match(await textOf(browser.$(byTestId("recover-lost"))), /lost/i);
    assert.match(await textOf(browser.$(byTestId("recover-test"))), /^Passed /);
    assert.match(await textOf(browser.$(byTestId("recover-files"))), /checksums match/);
    // The only backup is the tested one: no newer backup was passed over.
    assert.equal(await browser.$(byTestId("recover-skipped")).isExisting(), false);
    await screenshot(browser, "recover-1-plan");

    await browser.$(byTestId("recover-start")).click();
    // The restore's progress, then straight on to the swap step when it finished cleanly.
    const swapStep = await outcome(
      browser,
      byTestId("recover-swap-step"),
      `${byTestId("restore-error")}, ${byTestId("restore-errors")}`,
      180000,
      "Recover's restore",
    );
    assert.equal(await swapStep.getAttribute("data-state"), "idle");
    const copy = await textOf(browser.$(byTestId("recover-restored")));
    assert.match(copy, /^shop_restored_\d{8}(_\d+)?$/);
    assert.notEqual(copy, made.restored, "Recover restores into a name of its own");
    await browser.$(byTestId("database-node", copy)).waitForExist({ timeout: 30000 });
    await screenshot(browser, "recover-2-restored");

    await browser.$(byTestId("recover-swap")).click();
    const swapped = await outcome(
      browser,
      byTestId("recover-swapped"),
      byTestId("recover-swap-error"),
      60000,
      "the swap",
    );
    const keptAs = await textOf(browser.$(byTestId("recover-kept-as")));
    assert.match(keptAs, /^shop_/);
    assert.match(await textOf(swapped), /shop is now the restored copy/);
    await screenshot(browser, "recover-3-swapped");

    // The server, asked by the command line as the same user: shop (the restored copy) and the
    // old one under its new name; the copy's own name is gone.
    const names = JSON.parse(lifeboat(env, ["databases", "Practice", "--json"])).map((d) => d.name);
    assert.ok(names.includes("shop"), names.join(", "));
    assert.ok(names.includes(keptAs), `${keptAs} missing from ${names.join(", ")}`);
    assert.ok(!names.includes(copy), `${copy} still there: ${names.join(", ")}`);
    // shop has its rows back; the damaged database is kept as it was.
    assert.equal(practicePsql("shop", "select count(*) from order_status_history"), "1600");
    assert.equal(practicePsql(keptAs, "select count(*) from order_status_history"), "0");
    made.keptAs = keptAs;

    await browser.$(byTestId("recover-close")).click();
    await wizard.waitForExist({ reverse: true, timeout: 10000 });
  });

  it("lists the backup in the Backups view, tested ok", async () => {
    const { browser } = session;
    await browser.$(byTestId("view-backups")).click();
    const view = await browser.$(byTestId("backups-view"));
    await browser.waitUntil(async () => (await view.isExisting()) && (await view.getAttribute("data-state")) !== "loading", {
      timeout: 30000,
      timeoutMsg: "the Backups view did not load",
    });
    assert.equal(await view.getAttribute("data-state"), "ready", await textOf(view));
    const rows = await browser.$$(byTestId("backups-row"));
    assert.equal(rows.length, 1);
    assert.equal(await rows[0].getAttribute("data-database"), "shop");
    const badges = await rows[0].$$(byTestId("backup-badge"));
    const keys = [];
    for (const badge of badges) keys.push(await badge.getAttribute("data-badge"));
    assert.deepEqual(keys, ["finished", "verified", "tested-ok"]);
    await screenshot(browser, "backups-view");
  });

  it("lists the backup, the test, the restores and the swap in the Activity view, with a job's log", async () => {
    const { browser } = session;
    await browser.$(byTestId("view-activity")).click();
    await browser.$(byTestId("activity-view")).waitForDisplayed({ timeout: 10000 });
    const listed = async () => {
      const jobs = [];
      for (const entry of await browser.$$(byTestId("activity-entry"))) {
        jobs.push(`${await entry.getAttribute("data-kind")}:${await entry.getAttribute("data-outcome")}`);
      }
      return jobs;
    };
    // What the engine recorded, listed when the view opens (the last job ended moments ago).
    await browser.waitUntil(async () => (await listed()).length >= 5, { timeout: 30000 }).catch(() => {});
    const jobs = await listed();
    // Newest first: Recover's swap and restore, the restore wizard's restore, the test, the backup.
    assert.deepEqual(jobs, [
      "swap:succeeded",
      "restore:succeeded",
      "restore:succeeded",
      "drill:succeeded",
      "backup:succeeded",
    ]);
    await screenshot(browser, "activity-view");

    const backup = await browser.$(`${byTestId("activity-entry")}[data-kind="backup"]`);
    await backup.$(byTestId("activity-show-log")).click();
    const log = await backup.$(byTestId("activity-log"));
    await log.waitForDisplayed({ timeout: 10000 });
    assert.match(await textOf(log), /pg_dump/);
    await log.scrollIntoView();
    await screenshot(browser, "activity-log");
  });

  it("tests a connection in the Add server dialog (the guide's picture of adding a server)", async () => {
    const { browser } = session;
    // The practice server stands in for "your own server"; the dialog is cancelled, not saved.
    await browser.$(byTestId("view-servers")).click();
    await browser.$(byTestId("add-server")).click();
    const dialog = await browser.$(byTestId("profile-dialog"));
    await dialog.waitForDisplayed({ timeout: 10000 });
    const port = JSON.parse(lifeboat(env, ["profile", "list", "--json"]))[0].settings.port;
    await browser.$(byTestId("field-name")).setValue("my server");
    await browser.$(byTestId("field-host")).setValue("127.0.0.1");
    await browser.$(byTestId("field-port")).setValue(String(port));
    await browser.$(byTestId("field-user")).setValue("lifeboat");
    // Lowercase hexadecimal: safe to type through WebKitWebDriver.
    await browser.$(byTestId("field-password")).setValue(readFileSync(join(home, "practice/sample/password"), "utf8").trim());
    await browser.$(byTestId("test-connection")).click();
    const result = await browser.$(byTestId("test-result"));
    await result.waitForDisplayed({ timeout: 30000 });
    assert.equal(await result.getAttribute("data-ok"), "true", await textOf(result));
    assert.match(await textOf(result), /Connected to PostgreSQL/);
    await screenshot(browser, "add-server");
    await browser.$(byTestId("cancel-profile")).click();
    await dialog.waitForExist({ reverse: true, timeout: 10000 });
    assert.equal(JSON.parse(lifeboat(env, ["profile", "list", "--json"])).length, 1, "the dialog saved nothing");
  });
});
