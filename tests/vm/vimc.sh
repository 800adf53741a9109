#!/bin/bash
# Builds vimc, the kernel's virtual media-controller camera, as a module
# for the VM's kernel: Debian's stock kernel leaves it out
# (CONFIG_VIDEO_VIMC is not set), and it is the one camera libcamera's
# own pipeline handler drives without hardware. The source is the same
# upload's linux-source package (`apt-get download'), built out of tree
# against that kernel's headers (linux-headers-amd64, `make deps').
#
#   tests/vm/vimc.sh KROOT KVER
#
# KROOT is vm.sh's unpacked kernel (KROOT/lib/modules/KVER); the module
# lands in its extra/ folder and depmod is run again. Kept between runs.
set -eu
kroot=$1 kver=$2
out=$kroot/lib/modules/$kver/extra/vimc.ko
[ -e "$out" ] && exit 0
hdr=/usr/src/linux-headers-$kver
if [ ! -d "$hdr" ]; then
	echo "vimc: $hdr is missing: install linux-headers-$kver (sudo make deps installs linux-headers-amd64)" >&2
	exit 1
fi
# the source of exactly the kernel's version: 6.1.0-56-amd64 -> the
# headers package's 6.1.192-2 -> linux-source-6.1 6.1.192-2
ver=$(dpkg-query -W -f='${Version}' "linux-headers-$kver" 2>/dev/null) || {
	echo "vimc: linux-headers-$kver is not installed" >&2; exit 1; }
series=$(echo "$kver" | cut -d. -f1,2)
work=$(mktemp -d /tmp/moat-vimc.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "vm: building vimc for $kver from linux-source-$series $ver" >&2
(cd "$work" && apt-get download -q "linux-source-$series=$ver" >/dev/null 2>&1) || {
	echo "vimc: apt-get download linux-source-$series=$ver failed (it must be the kernel's own version)" >&2
	exit 1
}
dpkg-deb --fsys-tarfile "$work"/linux-source-*.deb |
	tar -xO "./usr/src/linux-source-$series.tar.xz" | xz -dc |
	tar -x -C "$work" --wildcards "linux-source-$series/drivers/media/test-drivers/vimc/*"
src=$work/linux-source-$series/drivers/media/test-drivers/vimc
make -s -C "$hdr" M="$src" CONFIG_VIDEO_VIMC=m modules >"$work/build.log" 2>&1 || {
	tail -20 "$work/build.log" >&2
	echo "vimc: the module did not build against $hdr" >&2
	exit 1
}
mkdir -p "$(dirname "$out")"
cp "$src/vimc.ko" "$out.tmp" && mv "$out.tmp" "$out"
depmod -b "$kroot" "$kver"
