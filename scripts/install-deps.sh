#!/bin/sh
# Installs the Debian packages kvsim needs to build, test and run.
#
#   scripts/install-deps.sh           install what is missing (apt-get, as root or via sudo)
#   scripts/install-deps.sh --check   exit 0 if everything is installed, 1 otherwise (no changes)
#   scripts/install-deps.sh --list    print the package list
#
# `make` runs `--check` and calls this script only when a package is missing, so a fresh
# Debian machine needs nothing installed by hand.
set -eu

PKGS="build-essential pkg-config uthash-dev zlib1g-dev libcunit1-dev libjansson-dev
libcurl4-openssl-dev libevent-dev gnuplot-nox clang libclang-rt-14-dev valgrind parallel
slurm-wlm munge"

missing() {
	for p in $PKGS; do
		s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		case "$s" in *"install ok installed"*) ;; *) printf '%s ' "$p" ;; esac
	done
}

case "${1:-}" in
--list) echo $PKGS; exit 0 ;;
--check) [ -z "$(missing)" ]; exit $? ;;
"") ;;
*) echo "usage: $0 [--check|--list]" >&2; exit 2 ;;
esac

todo=$(missing)
[ -z "$todo" ] && exit 0
echo "install-deps: installing: $todo" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to install: $todo" >&2; exit 1; }
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $todo >&2
