#!/usr/bin/env bash
# Install Debian's Chromium for the browser test of the book (tests/test_site.py) when it is
# missing. Idempotent: does nothing when /usr/bin/chromium already exists.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q chromium
test -x /usr/bin/chromium
/usr/bin/chromium --version
