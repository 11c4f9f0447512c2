#!/usr/bin/env python3
"""Fetch, verify and unpack PostgreSQL's regression test SQL, a test corpus for the CLI tests.

Downloads the pinned orig tarball of Debian's postgresql-18 source package from the Debian
mirror this machine's apt configuration names (default http://deb.debian.org/debian), refuses it
if its sha256 differs from the pin, and unpacks only what replaying the regression tests needs
(src/test/regress/parallel_schedule, sql/, data/ and, where present, input/) into
installers/.cache/regress-<version>/. Nothing is compiled: the tests replay the SQL with psql
(tests/src/regress.rs). A stamp file makes a second run a no-op; the tarball is kept in the
cache, so a removed folder is unpacked again without a download.

Debian removes superseded versions from its pool: when the pinned file is gone (HTTP 404), the
pin below must be updated to the current postgresql-18 version (and the bundled binaries with
it, installers/postgres-binaries.lock).

Exit codes: 0 done, 1 verification or download failure, 2 usage error.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION = "18.6"
TARBALL = f"postgresql-18_{VERSION}.orig.tar.bz2"
SHA256 = "555610c24d53e4316da5b7d3fc25c279d96856d5e0e23ee308c328c5fa881d9f"
POOL_PATH = f"/pool/main/p/postgresql-18/{TARBALL}"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
STAMP = ".lifeboat-stamp"
# What a replay reads, below postgresql-<version>/src/test/regress/ (expected/ is not needed).
KEEP = ("parallel_schedule", "sql/", "data/", "input/")


def say(message: str) -> None:
    print(f"fetch-regress: {message}", file=sys.stderr)


def apt_debian_mirror() -> str:
    """The first Debian archive URI of this machine's apt sources (deb822 first, then one-line)."""
    pattern = re.compile(r"^(https?://\S+/debian)/?$")
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip().lower() != "uris":
                continue
            for uri in value.split():
                found = pattern.match(uri)
                if found:
                    return found.group(1)
    try:
        lines = Path("/etc/apt/sources.list").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
        if len(words) >= 2 and words[0] in ("deb", "deb-src"):
            found = pattern.match(words[1])
            if found:
                return found.group(1)
    return DEFAULT_MIRROR


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except urllib.error.HTTPError as e:
        partial.unlink(missing_ok=True)
        if e.code == 404:
            raise SystemExit(
                f"fetch-regress: {url} is gone (HTTP 404): Debian keeps only the current "
                f"postgresql-18 in its pool. Update the pin in {Path(__file__).name} (VERSION, "
                "SHA256) to the version the mirror has, and the bundled 18 with it."
            )
        raise SystemExit(f"fetch-regress: could not download {url}: HTTP {e.code} {e.reason}")
    except (urllib.error.URLError, OSError) as e:
        partial.unlink(missing_ok=True)
        raise SystemExit(f"fetch-regress: could not download {url}: {e}")
    os.replace(partial, target)


def verified_tarball(cache: Path, mirror: str, offline: bool) -> Path:
    tarball = cache / TARBALL
    if tarball.exists() and sha256_of(tarball) == SHA256:
        return tarball
    if offline:
        raise SystemExit(f"fetch-regress: {TARBALL} is not in {cache} (or differs from the pin) and --offline was given.")
    url = mirror.rstrip("/") + POOL_PATH
    say(f"downloading {url}")
    download(url, tarball)
    actual = sha256_of(tarball)
    if actual != SHA256:
        bad = tarball.with_name(tarball.name + ".rejected")
        os.replace(tarball, bad)
        raise SystemExit(
            f"fetch-regress: HASH MISMATCH for {TARBALL}\n  pinned sha256   {SHA256}\n"
            f"  the file has    {actual}\n  The file was moved to {bad}; nothing was unpacked."
        )
    return tarball


def unpack(tarball: Path, dest: Path) -> int:
    prefix = f"postgresql-{VERSION}/src/test/regress/"
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest.parent))
    try:
        with tarfile.open(tarball, mode="r:bz2") as tar:
            members = []
            for member in tar:
                if not member.name.startswith(prefix):
                    continue
                inner = member.name[len(prefix):]
                if not inner or not any(inner == k or inner.startswith(k) for k in KEEP):
                    continue
                if not (member.isfile() or member.isdir()):
                    continue
                member.name = inner
                members.append(member)
            tar.extractall(path=staging, members=members, filter="data")
        if not (staging / "parallel_schedule").is_file() or not (staging / "sql").is_dir():
            raise SystemExit(f"fetch-regress: {TARBALL} has no {prefix}parallel_schedule and sql/.")
        # Readable by everyone: the test server's own user reads data/ with COPY FROM a file.
        for path in [staging, *staging.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(staging, dest)
        return sum(1 for m in members if m.isfile())
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cache_default = ROOT / "installers" / ".cache"
    parser.add_argument("--cache", type=Path, default=cache_default, help="where the tarball is kept")
    parser.add_argument(
        "--dest", type=Path, default=cache_default / f"regress-{VERSION}", help="where to unpack"
    )
    parser.add_argument("--mirror", default=None, help="Debian mirror (default: apt's, else deb.debian.org)")
    parser.add_argument("--offline", action="store_true", help="use only a tarball already in the cache")
    args = parser.parse_args()

    stamp = f"{TARBALL} {SHA256}\n"
    stamp_file = args.dest / STAMP
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        say(f"PostgreSQL {VERSION} regression SQL ready in {args.dest}")
        return 0
    tarball = verified_tarball(args.cache, args.mirror or apt_debian_mirror(), args.offline)
    files = unpack(tarball, args.dest)
    stamp_file.write_text(stamp)
    stamp_file.chmod(0o644)
    say(f"PostgreSQL {VERSION} regression SQL ({files} files) verified and unpacked into {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
