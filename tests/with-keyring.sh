#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked GNOME Keyring, so that tests use
# the real Secret Service without touching the user's own keychain. HOME points to a temporary
# folder (gnome-keyring writes its keyring files there); cargo and rustup keep their real homes.
set -euo pipefail
if [[ $# -eq 0 ]]; then
  echo "usage: tests/with-keyring.sh COMMAND [ARG...]" >&2
  exit 2
fi
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
export npm_config_cache="${npm_config_cache:-$HOME/.npm}"
session_home="$(mktemp -d "${TMPDIR:-/tmp}/lifeboat-keyring-XXXXXX")"
trap 'rm -rf "$session_home"' EXIT
export HOME="$session_home" XDG_DATA_HOME="$session_home/.local/share" XDG_CONFIG_HOME="$session_home/.config"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME"
# The password only unlocks this throwaway keyring.
exec dbus-run-session -- bash -c 'printf throwaway | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$@"' lifeboat-keyring "$@"
