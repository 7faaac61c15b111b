#!/bin/sh
# Installs the Debian packages tunbroker needs to build, test and demonstrate.
set -eu
packages="build-essential autoconf automake libtool pkg-config
	libevent-dev libsystemd-dev libmnl-dev libinih-dev check
	clang libclang-rt-14-dev
	iproute2 iputils-ping util-linux procps systemd"
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: run as root (sudo ./install-deps.sh)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $packages >/dev/null
echo "install-deps.sh: installed $(echo $packages | wc -w) packages"
