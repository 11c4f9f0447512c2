#!/usr/bin/env python3
"""Stage the PostgreSQL files that ship inside a Lifeboat installer.

From the fetched tree (src-tauri/resources/postgres/<major>/, every major with a server) it copies
into src-tauri/resources/bundle/postgres/<major>/:
  - for every major: the client tools pg_dump, pg_dumpall, pg_restore, psql, pg_amcheck and the
    shared libraries they load;
  - for the newest major only: also initdb, pg_ctl, postgres, the server's modules and share/,
    for the local practice server.
installers/tauri.bundle.conf.json maps the staged folder into the installer's resources.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ("pg_dump", "pg_dumpall", "pg_restore", "psql", "pg_amcheck")
SERVER = ("initdb", "pg_ctl", "postgres")
STAMP = ".lifeboat-stamp"


def executable(bin_dir: Path, name: str) -> Path:
    for candidate in (bin_dir / name, bin_dir / f"{name}.exe"):
        if candidate.is_file():
            return candidate
    raise SystemExit(f"stage-bundle: {name} is missing from {bin_dir}; run make setup first.")


def is_shared_library(path: Path) -> bool:
    name = path.name
    return path.is_file() and name.startswith("lib") and (".so" in name or name.endswith(".dylib"))


def copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_symlink():
        dest.symlink_to(src.readlink())
    else:
        shutil.copy2(src, dest)


def stage_major(src: Path, dest: Path, with_server: bool) -> None:
    bin_dir = src / "bin"
    tools = CLIENTS + (SERVER if with_server else ())
    for tool in tools:
        program = executable(bin_dir, tool)
        copy(program, dest / "bin" / program.name)
    # Windows keeps its DLLs next to the programs.
    for dll in bin_dir.glob("*.dll"):
        copy(dll, dest / "bin" / dll.name)
    if with_server:
        shutil.copytree(src / "lib", dest / "lib", symlinks=True,
                        ignore=shutil.ignore_patterns("*.a", "pkgconfig"))
        shutil.copytree(src / "share", dest / "share", symlinks=True)
    else:
        for library in sorted((src / "lib").iterdir()):
            if is_shared_library(library) or (library.is_symlink() and library.name.startswith("lib")):
                copy(library, dest / "lib" / library.name)
    if (src / STAMP).is_file():
        shutil.copy2(src / STAMP, dest / STAMP)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=ROOT / "src-tauri" / "resources" / "postgres")
    parser.add_argument("--dest", type=Path,
                        default=ROOT / "src-tauri" / "resources" / "bundle" / "postgres")
    args = parser.parse_args()

    majors = sorted(int(p.name) for p in args.src.iterdir() if p.is_dir() and p.name.isdigit()) \
        if args.src.is_dir() else []
    if not majors:
        print(f"stage-bundle: no PostgreSQL majors in {args.src}; run make setup first.", file=sys.stderr)
        return 1
    if args.dest.exists():
        shutil.rmtree(args.dest)
    newest = majors[-1]
    for major in majors:
        stage_major(args.src / str(major), args.dest / str(major), with_server=major == newest)
    size = sum(f.stat().st_size for f in args.dest.rglob("*") if f.is_file())
    print(f"stage-bundle: clients of {', '.join(map(str, majors))}, server of {newest}, "
          f"{size / 2**20:.0f} MiB in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
