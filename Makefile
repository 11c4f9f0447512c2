# Lifeboat. `make run` and `make test` install whatever is missing first (see installers/).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

APP_BIN := target/debug/Lifeboat
XVFB := xvfb-run -a -s "-screen 0 1280x800x24"
# Stamps that make a second `make setup` a no-op (kept out of git with node_modules).
UI_STAMP := ui/node_modules/.lifeboat-installed
E2E_STAMP := tests/e2e/node_modules/.lifeboat-installed

.PHONY: help setup setup-core run build build-ui test lint test-rust test-ui test-e2e bindings package package-debug bundle clean-servers

help:
	@echo "make run    install what is missing, build, start the Lifeboat window"
	@echo "make test   install what is missing, run every check and test"
	@echo "make setup  only install what is missing (apt, PostgreSQL binaries, npm, tauri-driver)"
	@echo "make bench  measure Lifeboat against the bare tools (docs/benchmarks.md)"
	@echo "make bindings  regenerate ui/src/lib/ipc/bindings.ts from the Rust commands"
	@echo "make package   build the Linux installer (.deb, release): the app, the lifeboat command line"
	@echo "               and the bundled PostgreSQL tools (docs/installers.md: Windows, macOS)"

# ---------------------------------------------------------------- setup (idempotent)
setup: setup-core
	@python3 installers/fetch-regress.py || echo "make setup: WARNING: PostgreSQL's regression SQL (a test corpus) is missing; the regression_db test will fail until installers/fetch-regress.py succeeds." >&2
	@bash installers/install-tauri-driver.sh
	@$(MAKE) -s $(E2E_STAMP)

# What building and running the app needs (the bench needs no more: no test corpus, no
# tauri-driver, no end-to-end packages).
setup-core:
	@bash installers/install-apt.sh
	@bash installers/check-toolchain.sh
	@python3 installers/fetch-postgres.py
	@$(MAKE) -s $(UI_STAMP)

# npm installs rerun only when a manifest or lock file changed.
$(UI_STAMP): ui/package.json ui/package-lock.json
	cd ui && npm install --no-audit --no-fund --ignore-scripts
	@touch $@

$(E2E_STAMP): tests/e2e/package.json tests/e2e/package-lock.json
	cd tests/e2e && npm install --no-audit --no-fund --ignore-scripts
	@touch $@

# ---------------------------------------------------------------- build and run
build-ui: setup
	cd ui && npm run build

# The desktop crate embeds ui/dist at compile time, so the UI is built first. Building every
# target of the workspace keeps one feature set for all crates, so `make run` and `make test`
# share compiled dependencies instead of building tauri twice.
CARGO_BUILD := cargo build --workspace --all-targets

build: build-ui
	$(CARGO_BUILD)

run: build
	@if [[ -z "$${DISPLAY:-}" && -z "$${WAYLAND_DISPLAY:-}" ]]; then \
	  echo "No display found: starting Lifeboat on a virtual display (Xvfb)."; \
	  echo "Take a screenshot with: DISPLAY=<display> import -window root shot.png"; \
	  exec $(XVFB) $(APP_BIN); \
	else \
	  exec $(APP_BIN); \
	fi

# ---------------------------------------------------------------- tests
test: build-ui
	$(MAKE) lint
	$(MAKE) test-ui
	$(MAKE) test-rust
	$(MAKE) test-e2e

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cd ui && npm run check

test-ui:
	cd ui && npm test

# Unit tests, the bindings staleness check, the layering check, the CLI tests and the system
# tests against real PostgreSQL servers (tests/), inside a private D-Bus session with a real
# Secret Service (GNOME Keyring) for the keychain tests. The debug .deb is packaged first for
# tests/tests/deb_install.rs, which installs it into a clean Debian root.
test-rust:
	$(package_debug)
	tests/with-keyring.sh cargo nextest run --workspace --no-fail-fast

test-e2e: build-ui
	$(CARGO_BUILD)
	cd tests/e2e && ../with-keyring.sh $(XVFB) npm test

# ---------------------------------------------------------------- benchmark (not part of `make test`)
# What Lifeboat costs over the bare tools, on generated data; writes bench/results/latest.json
# and docs/benchmarks.md. BENCH_SCALE=small for a quick run; BENCH_ARGS for bench/bench.py.
BENCH_SCALE ?= full
.PHONY: bench
# One cargo invocation for both programs: their shared dependencies are compiled once, with
# one feature set (a cold build here: 10 min, against 13 as two builds). The desktop crate
# embeds the UI that build-ui just built (its default feature custom-protocol), as `tauri
# build` would. The bench runs the build while it generates its data, and measures nothing
# before the build is done.
bench: setup-core
	cd ui && npm run build
	python3 bench/bench.py --build "cargo build --release -p lifeboat-cli -p lifeboat-desktop" \
	  --scale $(BENCH_SCALE) $(BENCH_ARGS)

# ---------------------------------------------------------------- maintenance
bindings:
	LIFEBOAT_UPDATE_BINDINGS=1 cargo test -p lifeboat-desktop --test bindings

# The Linux installer: the app in /usr/bin/Lifeboat, the lifeboat command line in
# /usr/bin/lifeboat (Tauri's externalBin) and the PostgreSQL tools in /usr/lib/Lifeboat/postgres.
# On Windows and macOS the same three steps make the NSIS/MSI and DMG (docs/installers.md).
package: build-ui
	cargo build --release -p lifeboat-cli
	python3 installers/stage-bundle.py --cli target/release/lifeboat
	ui/node_modules/.bin/tauri build --bundles deb --config installers/tauri.bundle.conf.json

bundle: package

# The same package from the debug build the tests compile anyway (`tauri bundle` packages
# target/debug without compiling again): target/debug/bundle/deb/.
define package_debug
	$(CARGO_BUILD)
	python3 installers/stage-bundle.py --cli target/debug/lifeboat
	ui/node_modules/.bin/tauri bundle --debug --bundles deb --config installers/tauri.bundle.conf.json
endef

package-debug: build-ui
	$(package_debug)

# Stops test servers a killed run left behind (their watchdogs normally do this).
clean-servers:
	-pkill -f lifeboat-pg-watchdog
	-pkill -u lifeboat-test postgres
	rm -rf "$${TMPDIR:-/tmp}/lifeboat-pg-tests"
