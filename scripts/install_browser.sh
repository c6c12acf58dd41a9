#!/usr/bin/env bash
# Installs what the widget's browser tests (tests/test_widget_browser.py) need:
# - Debian's chromium (/usr/bin/chromium), driven by playwright; playwright
#   never downloads a browser;
# - axe-core (npm registry, pinned) into build/axe-core, the accessibility
#   checker the tests inject into the demo page.
# Idempotent: does nothing when both are there.
set -euo pipefail
cd "$(dirname "$0")/.."
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
AXE_VERSION=4.14.1
AXE_DIR=build/axe-core

if [ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ] || \
   ! grep -q "\"version\": \"$AXE_VERSION\"" "$AXE_DIR/node_modules/axe-core/package.json"; then
  command -v npm >/dev/null || { echo "npm is needed to install axe-core (apt-get install -y npm)" >&2; exit 1; }
  echo "Installing axe-core $AXE_VERSION into $AXE_DIR ..."
  mkdir -p "$AXE_DIR"
  npm install --no-save --no-audit --no-fund --no-package-lock --silent --prefix "$AXE_DIR" "axe-core@$AXE_VERSION"
fi
echo "axe-core: $AXE_DIR/node_modules/axe-core/axe.min.js"

if [ -x "$CHROMIUM" ]; then
  echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "Installing Debian chromium (needed by the widget browser tests)..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-dejavu-core
"$CHROMIUM" --version
