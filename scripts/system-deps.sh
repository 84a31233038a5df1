#!/bin/sh
# Installs the Debian packages the app and its tests need, when they are missing and installable:
# Python 3 with venv, ClamAV's daemon (virus scanning), libmagic (sniffing attachments), and Dovecot's IMAP
# server (the tests read users' mailboxes from a private one: bot/devtools/dovecot.py), and a CJK font for charts.
# Runs apt-get as root, or through sudo when available; otherwise says what to install.
set -eu

missing=""
command -v clamd >/dev/null 2>&1 || [ -x /usr/sbin/clamd ] || missing="$missing clamav clamav-daemon"
[ -x /usr/sbin/dovecot ] || command -v dovecot >/dev/null 2>&1 || missing="$missing dovecot-imapd"
# The dashboard chart's Chinese labels (matplotlib falls back to it per glyph; without it they draw as boxes).
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing="$missing fonts-wqy-microhei"
[ -e /usr/lib/x86_64-linux-gnu/libmagic.so.1 ] || ldconfig -p 2>/dev/null | grep -q 'libmagic.so.1' || missing="$missing libmagic1"
if ! command -v python3 >/dev/null 2>&1; then
    missing="$missing python3 python3-venv"
else
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing="$missing python3-venv"
fi

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "system-deps: please install:$missing (apt-get install$missing)" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: not a Debian system; please install:$missing" >&2
    exit 0
fi
echo "system-deps: installing$missing" >&2
$SUDO apt-get update -qq
# The daemons are started by our own code with their own configurations (free ports on 127.0.0.1); a system
# service the package may start does not get in their way.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
