#!/bin/sh
# Installs the Debian packages listed in tools/debian-packages.txt and, on
# an amd64 machine (where make test builds for arm64 and runs its tests
# under qemu, and boots Debian's amd64 kernel for the V4L2 tests),
# tools/debian-packages-arm64.txt (the cross build) and
# tools/debian-packages-amd64.txt, that are not installed yet. Idempotent:
# with everything present it changes nothing and needs no root.
set -eu
lists="$(dirname "$0")/debian-packages.txt"
if [ "$(dpkg --print-architecture)" = amd64 ]; then
	lists="$lists $(dirname "$0")/debian-packages-arm64.txt $(dirname "$0")/debian-packages-amd64.txt"
fi
# shellcheck disable=SC2086
packages() { sed -e 's/#.*//' $lists; }
missing=""
for pkg in $(packages); do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $pkg" ;;
	esac
done
# moatd runs each role as its own system user (daemon/moat.conf.example);
# moat is the user moatd.service runs moatd as (test_install runs it so),
# in the group video as daemon/systemd/moat.sysusers makes it.
users() {
	for u in moat moat-cam moat-seal moat-up; do
		id -u "$u" >/dev/null 2>&1 && continue
		if [ "$(id -u)" -ne 0 ]; then
			echo "deps: user $u is missing; run 'sudo make deps'" >&2
			return 1
		fi
		echo "deps: adding system user $u"
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$u"
		if [ "$u" = moat ] && getent group video >/dev/null; then
			usermod -a -G video moat
		fi
	done
}
if [ -z "$missing" ]; then
	echo "deps: all $(packages | grep -c .) packages present"
	users
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run 'sudo make deps' (or apt-get install$missing)" >&2
	exit 1
fi
# The cross build's NAME:arm64 packages come from the arm64 architecture.
case "$missing" in
*:arm64*)
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		echo "deps: adding the arm64 architecture to dpkg"
		dpkg --add-architecture arm64
	fi
	;;
esac
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
users
