#!/usr/bin/env bash
# Installs what the test suite needs beyond Go and Azurite: Debian's chromium, which the
# dashboard's browser tests (internal/dashboard) drive headless. No browser build can be
# downloaded on the project's machines, so the distribution package is the only source.
# Idempotent: does nothing when chromium is already installed.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "setup-test-deps: chromium is missing and apt-get is not available; install chromium to run the browser tests" >&2
	exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
	sudo="sudo"
fi
echo "setup-test-deps: installing chromium (Debian package) for the browser tests" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
