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
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ("pg_dump", "pg_dumpall", "pg_restore", "psql", "pg_amcheck")
SERVER = ("initdb", "pg_ctl", "postgres")
STAMP = ".lifeboat-stamp"
DLL_NAME = re.compile(rb"[A-Za-z0-9_.+-]+\.dll", re.IGNORECASE)
# Build-time files in a server's lib/: static and import libraries, pkg-config and PGXS.
LIB_BUILD_FILES = ("*.a", "*.lib", "pkgconfig", "pgxs")


def executable(bin_dir: Path, name: str) -> Path:
    for candidate in (bin_dir / name, bin_dir / f"{name}.exe"):
        if candidate.is_file():
            return candidate
    raise SystemExit(f"stage-bundle: {name} is missing from {bin_dir}; run make setup first.")


# The programs load libpq (and on macOS the OpenSSL it links); ECPG's runtime libraries serve
# only the ecpg preprocessor, which does not ship.
UNUSED_LIBRARIES = ("libecpg", "libpgtypes")
# A library under the name the loader asks for: libpq.so.5 (Linux), libpq.5.dylib (macOS).
LOADER_NAME = re.compile(r"^lib[\w+-]+(\.so\.\d+|\.\d+\.dylib)$")


def loaded_libraries(lib_dir: Path) -> list[Path]:
    """The shared libraries of lib/ under their loader names only.

    An installer does not keep symlinks (Tauri copies the files they point to), so libpq.so,
    libpq.so.5 and libpq.so.5.18 would ship as three copies; the loader only opens libpq.so.5.
    """
    if not lib_dir.is_dir():
        return []
    return [
        library for library in sorted(lib_dir.iterdir())
        if LOADER_NAME.match(library.name) and library.is_file()
        and not library.name.startswith(UNUSED_LIBRARIES)
    ]


def needed_dlls(bin_dir: Path, roots: list[Path]) -> list[Path]:
    """The DLLs of a Windows bin/ that `roots` load, directly or through each other.

    Windows keeps every DLL of the install in bin/, among them StackBuilder's GUI toolkit and ICU
    (36 MB, only the server loads it). A DLL's imports are named in plain ASCII inside it, so a
    scan for `*.dll` names finds each one; a name that is only mentioned ships too, which costs
    bytes, never a missing library.
    """
    present = {dll.name.lower(): dll for dll in bin_dir.glob("*.dll")}
    found: dict[str, Path] = {}
    pending = list(roots)
    while pending:
        data = pending.pop().read_bytes()
        for name in DLL_NAME.findall(data):
            key = name.decode("ascii").lower()
            if key in present and key not in found:
                found[key] = present[key]
                pending.append(present[key])
    return sorted(found.values())


def copy(src: Path, dest: Path) -> None:
    """Copies the file `src` names (a symlink's target, under the symlink's name)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)


def is_top_level_library(directory: str, names: list[str]) -> set[str]:
    """copytree filter of the server's lib/: build files anywhere, and the lib* files at the top
    (loaded_libraries copies the ones that are needed)."""
    ignored = set(shutil.ignore_patterns(*LIB_BUILD_FILES)(directory, names))
    if Path(directory).name == "lib":
        ignored |= {n for n in names if n.startswith("lib") and not n.startswith("libpqwalreceiver")}
    return ignored


def stage_major(src: Path, dest: Path, with_server: bool) -> None:
    bin_dir = src / "bin"
    tools = CLIENTS + (SERVER if with_server else ())
    programs = [executable(bin_dir, tool) for tool in tools]
    for program in programs:
        copy(program, dest / "bin" / program.name)
    # Windows keeps the DLLs next to the programs; the server's modules in lib/ load some too.
    modules = sorted((src / "lib").glob("*.dll")) if with_server else []
    for dll in needed_dlls(bin_dir, programs + modules):
        copy(dll, dest / "bin" / dll.name)
    if with_server:
        # The server's modules (plpgsql, the encoding conversions, amcheck ...) and its share/.
        shutil.copytree(src / "lib", dest / "lib", symlinks=False, ignore=is_top_level_library)
        shutil.copytree(src / "share", dest / "share", symlinks=False)
    for library in loaded_libraries(src / "lib"):
        copy(library, dest / "lib" / library.name)
    if (src / STAMP).is_file():
        shutil.copy2(src / STAMP, dest / STAMP)


def host_triple() -> str:
    out = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("host: "):
            return line.split()[1]
    raise SystemExit("stage-bundle: rustc -vV names no host triple.")


def stage_cli(cli: Path, dest_dir: Path, triple: str) -> Path:
    """Copies the CLI where externalBin looks: <name>-<triple>, plus .exe on Windows."""
    if not cli.is_file():
        raise SystemExit(f"stage-bundle: the command-line program {cli} is missing; build it first "
                         "(cargo build -p lifeboat-cli).")
    suffix = ".exe" if "windows" in triple else ""
    if dest_dir.exists():
        shutil.rmtree(dest_dir)
    dest_dir.mkdir(parents=True)
    target = dest_dir / f"lifeboat-{triple}{suffix}"
    shutil.copy2(cli, target)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=ROOT / "src-tauri" / "resources" / "postgres")
    parser.add_argument("--dest", type=Path,
                        default=ROOT / "src-tauri" / "resources" / "bundle" / "postgres")
    parser.add_argument("--cli", type=Path, default=None,
                        help="the built lifeboat program to ship next to the app")
    parser.add_argument("--cli-dest", type=Path,
                        default=ROOT / "src-tauri" / "resources" / "bundle" / "bin")
    parser.add_argument("--target", default=None, help="target triple (default: rustc's host)")
    args = parser.parse_args()

    if args.cli is not None:
        staged = stage_cli(args.cli, args.cli_dest, args.target or host_triple())
        print(f"stage-bundle: {args.cli} staged as {staged}")

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
