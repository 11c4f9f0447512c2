#!/usr/bin/env bash
# Checks the Rust and Node toolchains Lifeboat builds with, and installs cargo-nextest from
# crates.io when it is missing. A toolchain that cannot be installed from the package
# registries is reported with what to do.
set -euo pipefail

fail() {
  echo "toolchain: $1" >&2
  exit 1
}

command -v cargo >/dev/null 2>&1 || fail "cargo is missing. Install Rust 1.90 or newer with rustup (https://rustup.rs), then run make again."
rust_minor="$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')"
((rust_minor >= 90)) || fail "Rust $(rustc --version) is too old; Lifeboat needs 1.90 or newer (rustup update)."
cargo fmt --version >/dev/null 2>&1 || fail "rustfmt is missing: rustup component add rustfmt"
cargo clippy --version >/dev/null 2>&1 || fail "clippy is missing: rustup component add clippy"
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "toolchain: installing cargo-nextest from crates.io"
  cargo install cargo-nextest --locked
fi

command -v node >/dev/null 2>&1 || fail "Node.js is missing; install Node.js 20.19 or newer."
node_version="$(node --version | sed 's/^v//')"
IFS=. read -r node_major node_minor _ <<<"$node_version"
if ((node_major < 20 || (node_major == 20 && node_minor < 19))); then
  fail "Node.js $node_version is too old; the UI build (Vite 8) needs 20.19 or newer."
fi
command -v npm >/dev/null 2>&1 || fail "npm is missing; install the npm that comes with Node.js."
echo "toolchain: Rust $(rustc --version | cut -d' ' -f2), Node $node_version, $(cargo nextest --version | head -n1)"
