#!/usr/bin/env bash
# Builds Waggle and runs every test: formatting, clippy, the Rust tests and the Python
# end-to-end tests with the official clients. This is the README's test command and what
# CI runs (.ci/run). Works on a fresh Debian machine with Rust and Python 3.11, as root,
# and is safe to run again (the venv and the cargo target dir are reused).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$(pwd)"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/waggle-target}"
VENV="${WAGGLE_VENV:-$HOME/.cache/waggle-venv}"
PYTHON="${PYTHON:-python3}"

section() {
    printf '\n==== %s ==== (%s)\n' "$*" "$(date -u +%H:%M:%S)"
}

section "toolchain"
cargo --version
rustc --version
"$PYTHON" --version
echo "CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
echo "venv: $VENV"

section "python venv for the end-to-end tests"
if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "venv at $VENV is broken; recreating"
    rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        # Debian splits venv/ensurepip out of python3.
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq
            apt-get install -y -qq python3-venv
        else
            echo "python venv support is missing: install python3-venv" >&2
            exit 1
        fi
    fi
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
fi
# Reinstall only when tests/requirements.txt changed since the last successful install.
REQ_HASH="$(sha256sum tests/requirements.txt | cut -d' ' -f1)"
STAMP="$VENV/.waggle-requirements.sha256"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$REQ_HASH" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
    echo "$REQ_HASH" >"$STAMP"
else
    echo "requirements unchanged; venv reused"
fi

section "browser for the UI tests (Debian's chromium, playwright-core from npm)"
# Only what is missing: a machine's own Node.js (e.g. NodeSource's, which bundles npm)
# conflicts with Debian's npm package.
UI_PKGS=""
command -v chromium >/dev/null 2>&1 || UI_PKGS="$UI_PKGS chromium fonts-dejavu-core"
command -v node >/dev/null 2>&1 || UI_PKGS="$UI_PKGS nodejs"
command -v npm >/dev/null 2>&1 || UI_PKGS="$UI_PKGS npm"
if [ -n "$UI_PKGS" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $UI_PKGS >/dev/null
    else
        echo "chromium and node are missing: install the chromium, nodejs and npm packages" >&2
        exit 1
    fi
fi
chromium --version
node --version
# Pinned by tests/ui/package-lock.json; reinstalled only when the lock changed.
UI_LOCK_HASH="$(sha256sum tests/ui/package-lock.json | cut -d' ' -f1)"
UI_STAMP="tests/ui/node_modules/.waggle-lock.sha256"
if [ ! -f "$UI_STAMP" ] || [ "$(cat "$UI_STAMP")" != "$UI_LOCK_HASH" ]; then
    (cd tests/ui && npm ci --no-audit --no-fund --loglevel=error)
    echo "$UI_LOCK_HASH" >"$UI_STAMP"
else
    echo "playwright-core unchanged; node_modules reused"
fi

section "cargo fmt --check"
cargo fmt --all --check

section "cargo build --release"
cargo build --release --workspace --all-targets

section "cargo clippy -D warnings"
cargo clippy --release --workspace --all-targets -- -D warnings

section "cargo test"
cargo test --release --workspace

section "end-to-end tests (pytest, official clients against waggle serve)"
export WAGGLE_BIN="${WAGGLE_BIN:-$CARGO_TARGET_DIR/release/waggle}"
echo "WAGGLE_BIN=$WAGGLE_BIN"
cd "$REPO"
"$VENV/bin/python" -m pytest tests -q -p no:cacheprovider

section "benchmark suite, smoke run (proves the suite works; measures nothing)"
"$WAGGLE_BIN" bench suite --smoke
"$WAGGLE_BIN" bench insert --spans 5000 --group 1000

section "all tests passed"
