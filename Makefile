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

.PHONY: help setup run build build-ui test lint test-rust test-ui test-e2e bindings bundle clean-servers

help:
	@echo "make run    install what is missing, build, start the Lifeboat window"
	@echo "make test   install what is missing, run every check and test"
	@echo "make setup  only install what is missing (apt, PostgreSQL binaries, npm, tauri-driver)"
	@echo "make bindings  regenerate ui/src/lib/ipc/bindings.ts from the Rust commands"
	@echo "make bundle    build the Linux installer (.deb) with the bundled PostgreSQL tools"

# ---------------------------------------------------------------- setup (idempotent)
setup:
	@bash installers/install-apt.sh
	@bash installers/check-toolchain.sh
	@python3 installers/fetch-postgres.py
	@python3 installers/fetch-regress.py || echo "make setup: WARNING: PostgreSQL's regression SQL (a test corpus) is missing; the regression_db test will fail until installers/fetch-regress.py succeeds." >&2
	@bash installers/install-tauri-driver.sh
	@$(MAKE) -s $(UI_STAMP) $(E2E_STAMP)

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
# Secret Service (GNOME Keyring) for the keychain tests.
test-rust:
	tests/with-keyring.sh cargo nextest run --workspace --no-fail-fast

test-e2e:
	$(CARGO_BUILD)
	cd tests/e2e && ../with-keyring.sh $(XVFB) npm test

# ---------------------------------------------------------------- maintenance
bindings:
	LIFEBOAT_UPDATE_BINDINGS=1 cargo test -p lifeboat-desktop --test bindings

bundle: build-ui
	python3 installers/stage-bundle.py
	ui/node_modules/.bin/tauri build --bundles deb --config installers/tauri.bundle.conf.json

# Stops test servers a killed run left behind (their watchdogs normally do this).
clean-servers:
	-pkill -f lifeboat-pg-watchdog
	-pkill -u lifeboat-test postgres
	rm -rf "$${TMPDIR:-/tmp}/lifeboat-pg-tests"
