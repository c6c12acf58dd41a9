#!/usr/bin/env bash
# Installs Debian's chromium for the widget's browser tests (tests/test_widget_browser.py).
# The tests drive /usr/bin/chromium with playwright; playwright never downloads a browser.
set -euo pipefail
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
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
