#!/usr/bin/env python3
"""Lifeboat's benchmark: what Lifeboat costs over the bare PostgreSQL tools (`make bench`).

One run, on data it generates: each pair (A = Lifeboat, B = the bare tools doing the same
work) runs on the same database, in turn for --rounds rounds, after a warm-up of each where
caches matter. Sides measured against the same thing share their rounds (a round of drills is
the drill on a profile, on the practice server, and the manual drill), and every measured run
starts after a CHECKPOINT and a sync, so that no run pays for the writes of the one before. Prints medians and ratios
(median of A over median of B, and the median of the per-round ratios) as a table, writes the
results as JSON and renders docs/benchmarks.md from them.

Servers and the practice-server drill run as the unprivileged user `lifeboat-test` (PostgreSQL
refuses root); so do both sides of every pair, so that `runuser` costs A and B alike.
Only the standard library: nothing to install beyond what `make setup` brings.
"""

import argparse
import json
import os
import platform
import shlex
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USER = "lifeboat-test"
SCALES = {
    # pgbench scale, rows of mixed text, small tables, rounds
    "small": dict(pgbench=5, text_rows=20_000, tables=200, rounds=3),
    "medium": dict(pgbench=20, text_rows=100_000, tables=500, rounds=3),
    # One bare `pg_dump -Fc` (gzip) must take 20-60 s (the brief). gzip spends its time on the
    # text (about 29 us a row here), the restores and drills spend theirs on pgbench's table
    # (its rows are blank padding that compresses at almost no cost): pgbench 120 with 420,000
    # rows of text gave 16.9-20.5 s and made the bench take 17 minutes of the 20 its brief
    # allows with the cold release builds in front of it. pgbench 30 with 720,000 rows of text
    # took 24-29 s (busy machine), and every restore and drill half the time; 640,000 keep it
    # over 20 s with a margin for a quiet machine.
    "full": dict(pgbench=30, text_rows=640_000, tables=2000, rounds=3),
}
# Pairs whose target is 3 % or narrower (the backup and the two restores) get this many more
# rounds: one side of a round here is 2-8 % slower than the other at random, in either
# direction, wider than the targets (Bench.group).
NARROW_EXTRA_ROUNDS = 2
TARGETS = {
    "backup": 1.03,
    "backup_2000": 1.10,
    "default_vs_gzip_speedup": 4.0,
    "restore": 1.02,
    "drill": 1.15,
    "preflight_s": 2.0,
    "app_first_frame_s": 1.0,
    "app_pss_mb": 200.0,
    "cli_start_ms": 50.0,
}


STARTED = time.perf_counter()
# A round in which a side lost more than this share of the VM's CPU time to other guests
# (steal) is measured again, at most MAX_REPLACED times in a group of pairs.
STEAL_LIMIT = 0.05
MAX_REPLACED = 2


def log(*args):
    """A line on stderr with the minutes and seconds since the bench started: where the bench's
    own time goes."""
    took = int(time.perf_counter() - STARTED)
    print(f"[{took // 60:02}:{took % 60:02}]", *args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes


def as_user(argv, env=None):
    """argv run as the unprivileged user, with `env` added to a clean environment."""
    base = ["runuser", "-u", USER, "--", "env", "-i", "PATH=/usr/bin:/bin", "LANG=C.UTF-8"]
    extra = [f"{k}={v}" for k, v in (env or {}).items()]
    return base + extra + [str(a) for a in argv]


def run(argv, check=True, capture=True, input=None):
    done = subprocess.run(argv, capture_output=capture, text=True, input=input)
    if check and done.returncode != 0:
        raise SystemExit(
            f"bench: {' '.join(map(str, argv))} failed ({done.returncode}):\n"
            f"{done.stdout}\n{done.stderr}"
        )
    return done


def steal_ticks():
    """CPU time the hypervisor gave to other guests so far (all CPUs, in clock ticks)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[8]) if len(fields) > 8 else 0


TICK = os.sysconf("SC_CLK_TCK")
CPUS = os.cpu_count() or 1
STOLEN_AT_START = steal_ticks()


def timed(argv_list):
    """Runs each argv in turn (one measured step); seconds taken."""
    start = time.perf_counter()
    for argv in argv_list:
        run(argv)
    return time.perf_counter() - start


# ---------------------------------------------------------------- the server


class Server:
    def __init__(self, work: Path, bundle: Path, major: int):
        self.bin = bundle / str(major) / "bin"
        self.dir = work / "pg"
        self.port = free_port()
        run(as_user([self.bin / "initdb", "-D", self.dir / "data", "-U", "postgres",
                     "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]))
        conf = self.dir / "data" / "postgresql.conf"
        with open(conf, "a") as f:
            f.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{self.dir}'\nshared_buffers = 256MB\n"
                    "max_wal_size = 2GB\nmaintenance_work_mem = 256MB\n")
        run(as_user([self.bin / "pg_ctl", "-D", self.dir / "data", "-w", "-l",
                     self.dir / "server.log", "start"]))

    def env(self):
        return {"PGHOST": "127.0.0.1", "PGPORT": self.port, "PGUSER": "postgres"}

    def tool(self, name, *args):
        return as_user([self.bin / name, *args], self.env())

    def psql(self, db, sql):
        return run(self.tool("psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db,
                             "-c", sql)).stdout.strip()

    def psql_file(self, db, sql):
        return run(self.tool("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-f", "-"),
                   input=sql)

    def drop(self, db):
        run(self.tool("dropdb", "--if-exists", "--force", db))

    def stop(self):
        run(as_user([self.bin / "pg_ctl", "-D", self.dir / "data", "-m", "fast", "stop"]),
            check=False)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- data

# Words by rank: the most frequent first, as in running text. The body of each row draws them
# by Zipf's law (the k-th word about 1/k as often as the first), the way words occur in real
# text, among 1,200 made-up words of the long tail and hex fragments like ids and codes.
WORDS = ("the of and to a in is for on with as by at from this that be are was it order "
         "customer invoice payment shipped pending backup restore table index schema server "
         "Zürich São Paulo Kraków naïve café résumé 東京 Ελλάδα données straße").split()
SYLLABLES = ("ka to ri ne su mo la pe di gu ba fi".split(), "ra no te si lu me da po ki vo".split(),
             ["", "n", "s", "r", "l", "t", "m", "ng"])


def generate(server: Server, scale: dict):
    """The databases `bench` (pgbench's tables and a table of mixed text) and `tables2000`.
    Their parts are made at the same time (pgbench, the text in two halves, the small tables):
    the 2 cores here are then both busy."""
    log(f"bench: generating data (pgbench scale {scale['pgbench']}, "
        f"{scale['text_rows']} rows of text, {scale['tables']} small tables)")
    run(server.tool("createdb", "bench"))
    run(server.tool("createdb", "tables2000"))
    server.psql("bench", "CREATE TABLE docs (id bigint PRIMARY KEY, created timestamptz, "
                "author text, title text, body text, meta jsonb)")
    words = "ARRAY[" + ",".join("'" + w + "'" for w in WORDS) + "]"
    a, b, c = ("ARRAY[" + ",".join(f"'{x}'" for x in part) + "]" for part in SYLLABLES)
    tail = (f"(SELECT array_agg(a || b || c ORDER BY md5(a || b || c)) "
            f"FROM unnest({a}) a, unnest({b}) b, unnest({c}) c)")

    def text_rows(first, last):
        return f"""
        INSERT INTO docs
        SELECT g, now() - g * interval '37 seconds',
               'user' || (g % 997),
               initcap(w[1 + g % 40]) || ' ' || w[1 + (g * 7) % 40] || ' #' || g,
               (SELECT string_agg(CASE WHEN i > 0 AND random() < 0.04
                                       THEN left(md5(random()::text), 4 + g % 9)
                                       ELSE w[ceil(exp(random() * ln(array_length(w, 1))))::int]
                                  END, ' ')
                  FROM generate_series(1, 20 + g % 120) i),
               jsonb_build_object('n', g, 'tags', ARRAY[w[1 + g % 9], w[1 + g % 13]],
                                  'price', round((g % 10000) / 7.0, 2))
        FROM generate_series({first}, {last}) g,
             (SELECT array_cat({words}, {tail}) AS w) v;
        """

    half = scale["text_rows"] // 2
    small_tables = f"""
        DO $$ BEGIN
          FOR i IN 1..{scale['tables']} LOOP
            EXECUTE format('CREATE TABLE t%s (id serial PRIMARY KEY, name text NOT NULL,
                            at timestamptz DEFAULT now())', i);
            EXECUTE format('INSERT INTO t%s (name) SELECT md5(g::text) FROM generate_series(1, 10) g', i);
          END LOOP;
        END $$;
    """
    psql_file = ("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-", "-d")
    jobs = [(server.tool("pgbench", "-i", "-q", "-s", scale["pgbench"], "bench"), None),
            (server.tool(*psql_file, "bench"), text_rows(1, half)),
            (server.tool(*psql_file, "bench"), text_rows(half + 1, scale["text_rows"])),
            (server.tool(*psql_file, "tables2000"), small_tables)]
    with ThreadPoolExecutor(len(jobs)) as pool:
        list(pool.map(lambda job: run(job[0], input=job[1]), jobs))
    # Vacuumed and analysed now, so that autovacuum has nothing left to do while pairs run.
    server.psql_file("bench", "CREATE INDEX ON docs (created); VACUUM ANALYZE;")
    server.psql("tables2000", "VACUUM ANALYZE")


# ---------------------------------------------------------------- the pairs


class Bench:
    def __init__(self, args):
        self.args = args
        self.scale = dict(SCALES[args.scale])
        if args.rounds:
            self.scale["rounds"] = args.rounds
        if args.pgbench_scale:
            self.scale["pgbench"] = args.pgbench_scale
        self.work = Path(tempfile.mkdtemp(prefix="lifeboat-bench-", dir=args.workdir))
        self.work.chmod(0o755)
        run(["chown", USER, self.work])
        self.bundle = self.reachable(ROOT / "src-tauri" / "resources" / "postgres")
        self.major = max(int(p.name) for p in self.bundle.iterdir() if p.name.isdigit())
        # Made reachable once it is built (main).
        self.cli = Path(args.cli).resolve()
        self.home = self.work / "home"
        self.results = {"pairs": [], "single": []}
        self.serial = 0

    def reachable(self, path: Path) -> Path:
        """`path` where the unprivileged user can run it. A checkout in a private folder (a
        clone in /root, or in a `mktemp -d`) is out of its reach: the PostgreSQL binaries and
        the CLI are then copied into the bench's own folder."""
        path = path.resolve()
        if os.geteuid() != 0 or all(p.stat().st_mode & 0o001 for p in path.parents):
            return path
        folder = self.work / "reachable"
        folder.mkdir(exist_ok=True)
        copy = folder / str(len(list(folder.iterdir()))) / path.name
        copy.parent.mkdir(mode=0o755)
        if path.is_dir():
            shutil.copytree(path, copy, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(path, copy)
        log(f"bench: {path} is out of {USER}'s reach; using a copy at {copy}")
        return copy

    def next_name(self, prefix):
        self.serial += 1
        return f"{prefix}_{self.serial}"

    def lifeboat(self, *args):
        env = {"LIFEBOAT_HOME": self.home, "LIFEBOAT_PG_BUNDLE": self.bundle,
               "HOME": self.work}
        return as_user([self.cli, *args], env)

    def other(self, cli, home):
        """The same bench driving another build of lifeboat with its own data folder."""
        twin = Bench.__new__(Bench)
        twin.__dict__.update(self.__dict__)
        twin.cli, twin.home = self.reachable(Path(cli)), home
        run(twin.lifeboat("profile", "add", "bench", "--host", "127.0.0.1", "--port",
                          self.server.port, "--user", "postgres", "--use-pgpass"))
        return twin

    def out_dir(self, name):
        d = self.work / "out" / name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        run(["chown", USER, d])
        return d

    def settle(self):
        """Before each measured run: the server's dirty buffers and the page cache's dirty
        pages written out, so that no run pays for the one before."""
        self.server.psql("postgres", "CHECKPOINT")
        os.sync()

    def group(self, sides, pairs, warmup=True, narrow=False):
        """sides: {key: fn}, each fn() returning (seconds, extra dict), run in the given order
        each round (after one warm-up run of each when `warmup` is True, or of the sides it
        names); pairs: [(name, a, b)], the ratios computed from those rounds. A `narrow` target
        gets NARROW_EXTRA_ROUNDS more rounds."""
        title = " / ".join(sides)
        if warmup:
            warmed = sides if warmup is True else warmup
            log(f"bench: {title}: warm-up of {' / '.join(warmed)}")
            for fn in (sides[k] for k in warmed):
                self.settle()
                fn()
        rows = []
        keys = list(sides)
        replaced = 0
        rounds = self.scale["rounds"] + (NARROW_EXTRA_ROUNDS if narrow else 0)
        while len(rows) < rounds:
            i = len(rows) + replaced
            row = {}
            # Each round starts with the next side: on this VM the run after a long, busy one
            # (the gzip dump) is often slower, and a fixed order would always give that turn to
            # the same side.
            for key in keys[i % len(keys):] + keys[:i % len(keys)]:
                fn = sides[key]
                self.settle()
                stolen = steal_ticks()
                took, extra = fn()
                steal = (steal_ticks() - stolen) / TICK
                row[key] = {"s": took, "steal_s": steal, **extra}
            line = ", ".join(f"{k} {row[k]['s']:.2f} s" for k in keys)
            # The hypervisor took CPU time from this VM while a side ran (time "stolen" for
            # other guests, /proc/stat): that side ran on less of a machine than the other.
            # The round is measured again, both sides, at most MAX_REPLACED times a group.
            worst = max(row[k]["steal_s"] / (CPUS * row[k]["s"]) for k in keys)
            if worst > STEAL_LIMIT and replaced < MAX_REPLACED:
                replaced += 1
                log(f"bench: round {i + 1} measured again: {worst:.0%} of the CPU time was "
                    f"stolen by the hypervisor ({line})")
                self.results.setdefault("replaced_rounds", []).append(
                    {"group": title, "stolen_share": worst, **{k: row[k]["s"] for k in keys}})
                continue
            rows.append(row)
            log(f"bench: round {len(rows)}: {line}")
        for name, a, b in pairs:
            self.results["pairs"].append(pair_result(name, [(r[a], r[b]) for r in rows]))

    def pair(self, name, a, b, warmup=True, narrow=False):
        self.group({"A": a, "B": b}, [(name, "A", "B")], warmup, narrow)

    # ----- backup

    def lifeboat_backup(self, db, keep=None):
        def go():
            out = keep or self.out_dir("lb")
            took = timed([self.lifeboat("backup", "--profile", "bench", "--database", db,
                                        "--out", out, "--json")])
            size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()
                       and not f.name.endswith(".json"))
            if not keep:
                shutil.rmtree(out, ignore_errors=True)
            return took, {"bytes": size}
        return go

    def bare_dump(self, db, args):
        def go():
            out = self.out_dir("bare")
            took = timed([self.server.tool("pg_dump", *args, "-f", out / "dump", db)])
            size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
            shutil.rmtree(out, ignore_errors=True)
            return took, {"bytes": size}
        return go

    def kept_backup(self, db):
        """One Lifeboat backup kept for the restore and drill pairs: (manifest, dump, compression)."""
        out = self.out_dir(f"kept_{db}")
        self.lifeboat_backup(db, keep=out)()
        manifest = next(out.glob("*.lifeboat.json"))
        meta = json.loads(manifest.read_text())
        dump = out / meta["files"][0]["name"]
        return manifest, dump, meta["compression"]

    # ----- restore and drill

    def lifeboat_restore(self, manifest):
        def go():
            db = self.next_name("lb_restored")
            took = timed([self.lifeboat("restore", manifest, "--profile", "bench",
                                        "--target-db", db)])
            self.server.drop(db)
            return took, {}
        return go

    def bare_restore(self, dump):
        def go():
            db = self.next_name("bare_restored")
            took = timed([self.server.tool("createdb", db),
                          self.server.tool("pg_restore", "--exit-on-error", "-d", db, dump)])
            self.server.drop(db)
            return took, {}
        return go

    def lifeboat_drill(self, manifest, practice):
        """The drill, and how long each of its steps took (its report's own timestamps: the
        profile of where the time goes)."""
        def go():
            where = ["--practice"] if practice else ["--profile", "bench"]
            start = time.perf_counter()
            done = run(self.lifeboat("test", manifest, *where, "--json"))
            took = time.perf_counter() - start
            report = json.loads(done.stdout)
            if not report.get("passed"):
                raise SystemExit(f"bench: the drill failed: {report.get('failure')}")
            steps = {f"step_{s['kind']}_s": s["durationMs"] / 1000 for s in report["steps"]}
            return took, steps
        return go

    def manual_drill(self, dump):
        """What a careful person does by hand: restore into a scratch database, count every
        table, pg_amcheck with --heapallindexed, drop."""
        counts = ("SELECT format('SELECT count(*) FROM ONLY %I.%I', schemaname, relname) "
                  "FROM pg_stat_user_tables \\gexec\n")

        def go():
            db = self.next_name("manual_drill")
            s = self.server
            start = time.perf_counter()
            run(s.tool("createdb", db))
            run(s.tool("pg_restore", "--exit-on-error", "-d", db, dump))
            run(s.tool("psql", "-X", "-q", "-o", "/dev/null", "-d", db, "-f", "-"), input=counts)
            run(s.tool("pg_amcheck", "--install-missing", "--heapallindexed", "-d", db))
            run(s.tool("dropdb", db))
            return time.perf_counter() - start, {}
        return go

    def preflight(self, manifest):
        times = []
        for _ in range(max(3, self.scale["rounds"])):
            times.append(timed([self.lifeboat("restore", manifest, "--profile", "bench",
                                              "--target-db", "preflight_only", "--dry-run",
                                              "--json")]))
        return statistics.median(times)

    # ----- CLI and app

    def cli_start(self):
        version = [timed([self.lifeboat("--version")]) for _ in range(15)]
        runuser = [timed([as_user(["/bin/true"])]) for _ in range(15)]
        catalog = self.work / "catalog-home"
        shutil.copytree(self.home, catalog, dirs_exist_ok=True)
        run(["chown", "-R", USER, catalog])
        store = catalog / "lifeboat.sqlite3"
        with sqlite3.connect(store) as db:
            cols = [r[1] for r in db.execute("PRAGMA table_info(backups)") if r[1] != "id"]
            have = db.execute("SELECT count(*) FROM backups").fetchone()[0]
            row = db.execute(f"SELECT {','.join(cols)} FROM backups WHERE status = 'finished' "
                             "LIMIT 1").fetchone()
            for i in range(max(0, 1000 - have)):
                values = list(row)
                values[cols.index("started_at")] = f"2026-01-01T00:{i // 60:02}:{i % 60:02}+00:00"
                db.execute(f"INSERT INTO backups ({','.join(cols)}) VALUES "
                           f"({','.join('?' * len(cols))})", values)
        env = {"LIFEBOAT_HOME": catalog, "LIFEBOAT_PG_BUNDLE": self.bundle, "HOME": self.work}
        listing = [timed([as_user([self.cli, "backups", "--json", "--limit", "1000"], env)])
                   for _ in range(9)]
        overhead = statistics.median(runuser)
        result = {
            "version_ms": (statistics.median(version) - overhead) * 1000,
            "backups_json_1000_ms": (statistics.median(listing) - overhead) * 1000,
            "runuser_overhead_ms": overhead * 1000,
        }
        self.results["cli"] = result
        return result

    def app(self):
        app = Path(self.args.app)
        if not app.exists():
            self.results["app"] = {"skipped": f"no app binary at {app}"}
            return
        starts, pss, unpainted = [], [], 0
        while len(starts) < 5 and unpainted < 3:
            home = self.work / f"app-home-{len(starts)}-{unpainted}"
            first, total = app_start(app, home, not starts)
            if first != first:  # NaN: no frame within 30 s; counted, measured again
                unpainted += 1
                log("bench: the app painted no frame within 30 s; starting it again")
                continue
            starts.append(first)
            pss.append(total)
        self.results["app"] = {
            "binary": str(app),
            "first_frame_s": statistics.median(starts),
            "first_frame_all_s": starts,
            "unpainted_starts": unpainted,
            "idle_pss_mb": statistics.median(p["total"] for p in pss),
            "pss_parts_mb": pss[len(pss) // 2],
        }


def pair_result(name, measured):
    """Medians and ratios of A against B from [(a, b)], each {"s": seconds, extra...}."""
    rows = [{"a": a["s"], "b": b["s"], **{f"a_{k}": v for k, v in a.items() if k != "s"},
             **{f"b_{k}": v for k, v in b.items() if k != "s"}} for a, b in measured]
    ma = statistics.median(r["a"] for r in rows)
    mb = statistics.median(r["b"] for r in rows)
    result = {"name": name, "rounds": rows, "median_a_s": ma, "median_b_s": mb, "ratio": ma / mb,
              "median_of_ratios": statistics.median(r["a"] / r["b"] for r in rows)}
    for key in sorted({k for k in rows[0] if k.startswith(("a_", "b_"))}):
        result[f"median_{key}"] = statistics.median(r[key] for r in rows)
    return result


# ---------------------------------------------------------------- the app under Xvfb


def app_start(app: Path, home: Path, first: bool):
    """Seconds from exec to the first painted frame (the screen no longer one colour), and
    the proportional set size of the app and its web view after 3 s idle."""
    home.mkdir(parents=True, exist_ok=True)
    # Xvfb picks a free display itself and names it on a pipe: a number derived from our pid
    # could collide with another Xvfb and make GTK fail to start.
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24",
                             "-nolisten", "tcp"], pass_fds=(write_end,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as announced:
        display = ":" + announced.readline().strip()
    try:
        for _ in range(100):
            if subprocess.run(["xwininfo", "-root", "-display", display],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        env = dict(os.environ, DISPLAY=display, LIFEBOAT_HOME=str(home))
        start = time.perf_counter()
        proc = subprocess.Popen([str(app)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        painted = None
        while time.perf_counter() - start < 30:
            shot = subprocess.run(["import", "-display", display, "-window", "root", "-depth",
                                   "8", "-resize", "320x200!", "-format", "%k", "info:"],
                                  capture_output=True, text=True)
            colours = int(shot.stdout.strip() or 0)
            if colours > 8:
                painted = time.perf_counter() - start
                break
            time.sleep(0.02)
        time.sleep(3)
        pss = pss_tree(proc.pid)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return painted if painted is not None else float("nan"), pss
    finally:
        xvfb.terminate()
        xvfb.wait()


def pss_tree(pid):
    """PSS in MB of `pid` and its descendants, by process name."""
    children = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(p.name))
            except (OSError, IndexError, ValueError):
                pass
    parts, todo = {}, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            name = Path(f"/proc/{p}/comm").read_text().strip()
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    parts[name] = parts.get(name, 0) + int(line.split()[1]) / 1024
        except OSError:
            pass
    parts["total"] = sum(v for k, v in parts.items() if k != "total")
    return parts


# ---------------------------------------------------------------- report


def machine():
    mem = next(l for l in Path("/proc/meminfo").read_text().splitlines()
               if l.startswith("MemTotal")).split()[1]
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    disk = run(["df", "-h", "--output=source,fstype,size", str(ROOT)]).stdout.splitlines()[-1]
    rotational = "?"
    try:
        dev = Path(disk.split()[0]).name.rstrip("0123456789")
        rotational = Path(f"/sys/block/{dev}/queue/rotational").read_text().strip()
    except OSError:
        pass
    return {
        "cores": os.cpu_count(), "cpu": cpu, "memory_gb": round(int(mem) / 1024 / 1024, 1),
        "disk": " ".join(disk.split()) + f" (rotational={rotational})",
        "os": platform.platform(), "load_at_start": os.getloadavg(),
    }


def verdicts(r):
    pairs = {p["name"]: p for p in r["pairs"]}
    out = []

    def ratio_line(key, name, target, what):
        # Judged on the median of the per-round ratios: A and B of a round run back to back,
        # so a busy minute of the machine slows both and cancels out of their ratio, while
        # the medians of each side may come from different minutes. The ratio of the medians
        # is shown beside it.
        p = pairs.get(name)
        if not p:
            return
        ratio = p["median_of_ratios"]
        met = ratio <= target
        by = (ratio / target - 1) * 100
        out.append({"target": what, "met": met,
                    "value": f"{ratio:.3f}x (ratio of medians {p['ratio']:.3f}x)",
                    "by": f"{'within' if met else 'over'} by {abs(by):.1f} %",
                    "key": key})

    ratio_line("backup", "backup: lifeboat vs pg_dump (same format, compression)",
               TARGETS["backup"], "backup <= 1.03x bare pg_dump")
    ratio_line("backup_2000", "many small tables: backup", TARGETS["backup_2000"],
               "backup of 2,000 tables <= 1.10x bare pg_dump")
    p = pairs.get("default backup vs pg_dump -Fc (gzip)")
    if p:
        speedup = 1 / p["median_of_ratios"]
        smaller = p["median_a_bytes"] <= p["median_b_bytes"]
        out.append({"target": "default backup >= 4x faster than -Fc gzip, no larger",
                    "met": speedup >= TARGETS["default_vs_gzip_speedup"] and smaller,
                    "value": f"{speedup:.2f}x faster, {p['median_a_bytes'] / 1e6:.1f} MB vs "
                             f"{p['median_b_bytes'] / 1e6:.1f} MB",
                    "by": f"{(speedup / 4 - 1) * 100:+.0f} % of the 4x",
                    "key": "default_vs_gzip"})
    ratio_line("restore", "restore: lifeboat vs createdb + pg_restore", TARGETS["restore"],
               "restore <= 1.02x bare pg_restore")
    ratio_line("restore_2000", "many small tables: restore", TARGETS["restore"],
               "restore of 2,000 tables <= 1.02x")
    ratio_line("drill_profile", "drill on a profile vs manual", TARGETS["drill"],
               "drill on a profile <= 1.15x manual")
    ratio_line("drill_practice", "drill on the practice server vs manual", TARGETS["drill"],
               "drill on the practice server <= 1.15x manual")
    ratio_line("drill_2000", "many small tables: drill (profile)", TARGETS["drill"],
               "drill of 2,000 tables <= 1.15x manual")
    if "preflight_2000_s" in r:
        v = r["preflight_2000_s"]
        out.append({"target": "pre-flight/plan of 2,000 tables < 2 s", "met": v < 2,
                    "value": f"{v:.2f} s", "by": f"{abs(v / 2 - 1) * 100:.0f} %", "key": "preflight"})
    app = r.get("app", {})
    if "first_frame_s" in app:
        v = app["first_frame_s"]
        out.append({"target": "app cold start < 1 s to first frame", "met": v < 1,
                    "value": f"{v:.2f} s", "by": f"{abs(v - 1) * 100:.0f} %", "key": "app_start"})
        v = app["idle_pss_mb"]
        out.append({"target": "idle PSS (app + web view) < 200 MB", "met": v < 200,
                    "value": f"{v:.0f} MB", "by": f"{abs(v / 200 - 1) * 100:.0f} %", "key": "pss"})
    cli = r.get("cli", {})
    for key, what in (("version_ms", "`lifeboat --version` < 50 ms"),
                      ("backups_json_1000_ms", "`lifeboat backups --json` (1,000) < 50 ms")):
        if key in cli:
            v = cli[key]
            out.append({"target": what, "met": v < 50, "value": f"{v:.1f} ms",
                        "by": f"{abs(v / 50 - 1) * 100:.0f} %", "key": key})
    return out


def table(r):
    lines = ["| pair | A median | B median | median of ratios (judged) | ratio of medians |",
             "|---|---|---|---|---|"]
    for p in r["pairs"]:
        extra = ""
        if "median_a_bytes" in p and "median_b_bytes" in p:
            extra = f" ({p['median_a_bytes'] / 1e6:.1f} MB vs {p['median_b_bytes'] / 1e6:.1f} MB)"
        lines.append(f"| {p['name']}{extra} | {p['median_a_s']:.2f} s | {p['median_b_s']:.2f} s "
                     f"| {p['median_of_ratios']:.3f}x | {p['ratio']:.3f}x |")
    return "\n".join(lines)


def drill_profile(r):
    lines = []
    for p in r["pairs"]:
        steps = {k[len("median_a_step_"):-2]: v for k, v in p.items()
                 if k.startswith("median_a_step_")}
        if steps:
            parts = ", ".join(f"{k} {v:.2f} s" for k, v in steps.items())
            lines.append(f"- {p['name']} (median {p['median_a_s']:.2f} s, manual "
                         f"{p['median_b_s']:.2f} s): {parts}")
    return "\n".join(lines) or "(no drill measured)"


def merged(old, new, parts, took_s, rounds):
    """`old` results with what `new` measured again: pairs by name, the app and CLI parts."""
    by_name = {p["name"]: i for i, p in enumerate(old["pairs"])}
    for pair in new["pairs"]:
        if pair["name"] in by_name:
            old["pairs"][by_name[pair["name"]]] = pair
        else:
            old["pairs"].append(pair)
    for key, value in new.items():
        if key not in ("pairs", "single"):
            old[key] = value
    old.setdefault("updates", []).append(
        {"parts": parts, "date": time.strftime("%Y-%m-%d %H:%M"), "took_s": took_s,
         "rounds": rounds, "load_at_start": os.getloadavg()})
    return old


KEPT_MARKER = "<!-- make bench keeps everything below this line: it is written by hand -->"


def updated(r):
    return "".join(f"; {', '.join(u['parts'])} measured again on {u['date']} with `--update`, "
                   f"{u.get('rounds', '?')} rounds ({u['took_s'] / 60:.1f} minutes)"
                   for u in r.get("updates", []))


def built(r):
    b = r.get("build")
    if not b:
        return ""
    return (f", with the release build (`{b['command']}`) running during its first "
            f"{b['done_after_s'] / 60:.1f} minutes, {b['waited_s'] / 60:.1f} of them after the "
            f"data was ready")


def render_doc(r, note):
    m = r["machine"]
    rows = "\n".join(f"| {v['target']} | {'met' if v['met'] else 'NOT met'} | {v['value']} | "
                     f"{v['by']} |" for v in r["verdicts"])
    banner = f"\n> **{note}**\n" if note else ""
    return f"""# Benchmarks

What Lifeboat costs over the bare PostgreSQL tools, measured by `make bench`
(`bench/bench.py`): each pair runs on the same generated database, A (Lifeboat) and B (the
bare tools) in turn for {r['scale']['rounds']} rounds ({r['scale']['rounds'] + NARROW_EXTRA_ROUNDS} for the backup and the restores, whose targets are
narrower than a round's noise), each round starting with the next side,
after a warm-up (restores and drills read an archive the page cache holds already). Sides
compared with the same thing share their rounds (the drill on a profile, on the practice
server, the manual drill), and each measured run
starts after a `CHECKPOINT` and a `sync`. A target is judged on the median of the per-round
ratios (A over B of the same round, run back to back, so that a busy minute of the machine
slows both); the ratio of the two sides' medians is shown beside it. A round in which the
hypervisor took more than {STEAL_LIMIT:.0%} of the VM's CPU time from one side ("steal") is
measured again, at most {MAX_REPLACED} times a group{replaced(r)}. The servers' data, the data
folder and the backups are in {r.get('workdir', '/var/tmp')}. The raw results are in
`bench/results/latest.json`.
{banner}
## Reproduce

```
make bench                      # full scale, writes this file
make bench BENCH_SCALE=small    # a quick run of the same pairs on small data
```

## Machine

- {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB memory
- disk: {m['disk']}
- {m['os']}; load average at the start: {', '.join(f'{x:.2f}' for x in m['load_at_start'])}
- CPU time the hypervisor gave to other guests during the run ("steal"):
  {r.get('stolen_s', float('nan')):.0f} s
- scale: {r['scale_name']} (pgbench scale {r['scale']['pgbench']}, {r['scale']['text_rows']:,}
  rows of mixed text, {r['scale']['tables']:,} small tables; the database `bench` is
  {r.get('bench_db_size', '?')}, and one bare `pg_dump -Fc` of it takes
  {r.get('bare_pg_dump_fc_gzip_s', float('nan')):.1f} s); run on {r['date']}; took
  {r['took_s'] / 60:.1f} minutes{built(r)}{updated(r)}

## Targets

| target | verdict | measured | by how much |
|---|---|---|---|
{rows}

## Pairs

{table(r)}

## Where a drill's time goes

{drill_profile(r)}

## CLI and app

- CLI (`runuser` overhead of {r.get('cli', {}).get('runuser_overhead_ms', 0):.1f} ms
  subtracted): {json.dumps({k: round(v, 1) for k, v in r.get('cli', {}).items()})}
- app: {json.dumps(r.get('app', {}), default=str)}

## Notes

{r.get('notes', '')}
"""


def replaced(r):
    rounds = r.get("replaced_rounds", [])
    if not rounds:
        return " (none was, in this run)"
    return f" ({len(rounds)} in this run, listed in the JSON)"


def workdir_kind(path):
    fstype = run(["df", "--output=fstype", str(path)]).stdout.splitlines()[-1].strip()
    return f"{path} ({fstype}{', in memory' if fstype == 'tmpfs' else ''})"


def default_workdir():
    """Memory (tmpfs) when there is room: on this VM's disk the same bare restore of 2,000
    tables took 10.9-16.1 s from one run to the next, in memory 5.7-6.1 s. Both sides of a pair
    would pay a real disk's time alike; its swings would decide targets 2-3 % wide."""
    try:
        st = os.statvfs("/dev/shm")
        if st.f_bavail * st.f_frsize >= 12 * 2**30:
            return "/dev/shm"
    except OSError:
        pass
    return "/var/tmp"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", choices=sorted(SCALES), default="full")
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--pgbench-scale", type=int, default=0)
    ap.add_argument("--cli", default=str(ROOT / "target/release/lifeboat"))
    ap.add_argument("--app", default=str(ROOT / "target/release/Lifeboat"))
    ap.add_argument("--workdir", default=default_workdir(),
                    help="where the servers' data, the data folder and the backups go "
                         "(default: /dev/shm when it has 12 GB free, else /var/tmp)")
    ap.add_argument("--json-out", default=str(ROOT / "bench/results/latest.json"))
    ap.add_argument("--doc", default=str(ROOT / "docs/benchmarks.md"),
                    help="where the rendered results go ('' for nowhere)")
    ap.add_argument("--note", default=os.environ.get("BENCH_NOTE", ""),
                    help="a banner for the doc, e.g. that the machine was busy")
    ap.add_argument("--keep-workdir", action="store_true")
    ap.add_argument("--build", default="",
                    help="the command that builds --cli and --app, run while the data is "
                         "generated (nothing is measured before both are done)")
    ap.add_argument("--compare-cli", default="",
                    help="instead of the pairs: this build (--cli) against another lifeboat")
    ap.add_argument("--only", default="", help="comma-separated: backup,restore,drill,tables,cli,app")
    ap.add_argument("--update", action="store_true",
                    help="put this run's results into the existing --json-out (the parts not "
                         "measured again are kept) and render the doc from the whole")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root (servers run as the user lifeboat-test)")
    if run(["id", USER], check=False).returncode != 0:
        run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER])
    only = set(filter(None, args.only.split(","))) or {"backup", "restore", "drill", "tables",
                                                         "cli", "app"}
    started = STARTED
    # A cold release build leaves one of the two cores idle for minutes (the crates at the end
    # of the graph build one after the other): generating the data meanwhile saves a minute or
    # two of a cold `make bench`.
    build = subprocess.Popen(shlex.split(args.build)) if args.build else None
    b = Bench(args)
    # `--only app` needs no server and no data: it takes seconds instead of minutes.
    app_only = only == {"app"} and not args.compare_cli
    b.server = None
    try:
        if not app_only:
            b.server = Server(b.work, b.bundle, b.major)
        if not app_only:
            generate(b.server, b.scale)
        if build:
            log("bench: waiting for the build")
            waited = time.perf_counter()
            if build.wait() != 0:
                raise SystemExit(f"bench: the build failed ({build.returncode}): {args.build}")
            b.results["build"] = {"command": args.build,
                                  "done_after_s": time.perf_counter() - started,
                                  "waited_s": time.perf_counter() - waited}
            log("bench: built")
        if not app_only:
            b.cli = b.reachable(b.cli)
            run(b.lifeboat("profile", "add", "bench", "--host", "127.0.0.1", "--port",
                           b.server.port, "--user", "postgres", "--use-pgpass"))
            size = b.server.psql("bench", "SELECT pg_size_pretty(pg_database_size('bench'))")
            log(f"bench: database bench is {size}")
            manifest, dump, compression = b.kept_backup("bench")
            method = compression.split(":")[0]
            compress = [f"--compress={compression}"] if method != "none" else []
            b.results["bench_db_size"] = size
            b.results["default_compression"] = compression
        if args.compare_cli:
            old = b.other(args.compare_cli, b.work / "home-other")
            b.pair("backup: this build vs the other", b.lifeboat_backup("bench"),
                   old.lifeboat_backup("bench"))
            b.pair("drill on a profile: this build vs the other",
                   b.lifeboat_drill(manifest, False), old.lifeboat_drill(manifest, False))
            b.pair("drill on the practice server: this build vs the other",
                   b.lifeboat_drill(manifest, True), old.lifeboat_drill(manifest, True))
            b.kept_backup("tables2000")
            b.pair("many small tables: backup: this build vs the other",
                   b.lifeboat_backup("tables2000"), old.lifeboat_backup("tables2000"))
            only = set()
        if "backup" in only:
            # The kept backup, just made, warmed Lifeboat and the database's files.
            b.pair("backup: lifeboat vs pg_dump (same format, compression)",
                   b.lifeboat_backup("bench"), b.bare_dump("bench", ["-Fc", *compress]),
                   warmup=("B",), narrow=True)
            # gzip in a pair of its own. When the three shared their rounds, taking turns to
            # start, Lifeboat's backup ran right after the 20 s gzip dump in two rounds of
            # three and bare pg_dump in none; in each of three runs the one round where it did
            # not had the lowest ratio (1.034-1.065, the other two 1.053-1.162).
            b.pair("default backup vs pg_dump -Fc (gzip)", b.lifeboat_backup("bench"),
                   b.bare_dump("bench", ["-Fc"]), warmup=False)
            calib = b.results["pairs"][-1]["median_b_s"]
            b.results["bare_pg_dump_fc_gzip_s"] = calib
            log(f"bench: a bare pg_dump -Fc takes {calib:.1f} s (the brief wants 20-60 s at full scale)")
        if "restore" in only:
            # The archive is in the page cache already (made just before): no warm-up needed.
            b.pair("restore: lifeboat vs createdb + pg_restore",
                   b.lifeboat_restore(manifest), b.bare_restore(dump), warmup=False, narrow=True)
        if "drill" in only:
            # The first use of the practice server creates it: not measured.
            run(b.lifeboat("practice", "setup"))
            b.group({"profile": b.lifeboat_drill(manifest, False),
                     "practice": b.lifeboat_drill(manifest, True),
                     "manual": b.manual_drill(dump)},
                    [("drill on a profile vs manual", "profile", "manual"),
                     ("drill on the practice server vs manual", "practice", "manual")],
                    warmup=False)
        if "tables" in only:
            m2, d2, _ = b.kept_backup("tables2000")
            b.pair("many small tables: backup", b.lifeboat_backup("tables2000"),
                   b.bare_dump("tables2000", ["-Fc", *compress]))
            b.pair("many small tables: restore", b.lifeboat_restore(m2), b.bare_restore(d2),
                   warmup=False, narrow=True)
            b.pair("many small tables: drill (profile)", b.lifeboat_drill(m2, False),
                   b.manual_drill(d2), warmup=False)
            b.results["preflight_2000_s"] = b.preflight(m2)
        if "cli" in only:
            b.cli_start()
        if "app" in only:
            b.app()
    finally:
        if build and build.poll() is None:
            build.terminate()
            build.wait()
        if b.server:
            b.server.stop()
        if not args.keep_workdir:
            shutil.rmtree(b.work, ignore_errors=True)
    r = b.results
    out = Path(args.json_out)
    if args.update:
        r = merged(json.loads(out.read_text()), r, sorted(only), time.perf_counter() - started,
                   b.scale["rounds"])
    else:
        r.update(scale_name=args.scale, scale=b.scale, machine=machine(),
                 workdir=workdir_kind(args.workdir),
                 stolen_s=(steal_ticks() - STOLEN_AT_START) / TICK,
                 date=time.strftime("%Y-%m-%d %H:%M"), took_s=time.perf_counter() - started,
                 note=args.note)
    r["verdicts"] = verdicts(r)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(r, indent=2, default=str))
    print(table(r))
    for v in r["verdicts"]:
        print(f"{'met    ' if v['met'] else 'NOT met'}  {v['target']}: {v['value']} ({v['by']})")
    if args.doc:
        doc = Path(args.doc)
        # Sections written by hand (the app's memory analysis) follow the marker and are kept.
        previous = doc.read_text() if doc.exists() else ""
        kept = previous[previous.index(KEPT_MARKER):] if KEPT_MARKER in previous else ""
        doc.write_text(render_doc(r, args.note) + ("\n" + kept if kept else ""))
        log(f"bench: wrote {out} and {args.doc}")


if __name__ == "__main__":
    main()
