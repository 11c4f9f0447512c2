#!/usr/bin/env bash
# Installs the pinned tauri-driver (WebDriver bridge for the GUI end-to-end test) unless it is already there.
set -euo pipefail
version="2.1.0"
root="${CARGO_HOME:-$HOME/.cargo}"
stamp="$root/.lifeboat-tauri-driver-$version"
if [[ -x "$root/bin/tauri-driver" && -f "$stamp" ]]; then
  echo "tauri-driver: $version present"
  exit 0
fi
echo "tauri-driver: installing $version from crates.io"
cargo install tauri-driver --version "=$version" --locked --root "$root"
touch "$stamp"
