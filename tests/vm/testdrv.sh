#!/bin/bash
# Builds one of the kernel's virtual media test drivers that Debian's
# stock kernel leaves out, as a module for the VM's kernel:
#
#   vimc     the virtual media-controller camera (CONFIG_VIDEO_VIMC is not
#            set), the one camera libcamera's own pipeline handler drives
#            without hardware (test_libcamera);
#   vicodec  the virtual stateful memory-to-memory codec
#            (CONFIG_VIDEO_VICODEC is not set), the one V4L2 encoder that
#            runs without hardware (test_m2menc; it makes FWHT, not H.264).
#            The amd64 kernel has no memory-to-memory driver at all, so
#            the framework (v4l2-mem2mem, CONFIG_V4L2_MEM2MEM_DEV) is
#            built beside it from the same source.
#
# The source is the same upload's linux-source package (`apt-get
# download'), built out of tree against that kernel's headers
# (linux-headers-amd64, `make deps').
#
#   tests/vm/testdrv.sh KROOT KVER NAME
#
# KROOT is vm.sh's unpacked kernel (KROOT/lib/modules/KVER); the module
# lands in its extra/ folder and depmod is run again. Kept between runs.
set -eu
kroot=$1 kver=$2 name=$3
case $name in
vimc) config=CONFIG_VIDEO_VIMC ;;
vicodec) config=CONFIG_VIDEO_VICODEC ;;
*) echo "testdrv: $name is not a test driver built here (vimc, vicodec)" >&2; exit 1 ;;
esac
out=$kroot/lib/modules/$kver/extra/$name.ko
[ -e "$out" ] && exit 0
hdr=/usr/src/linux-headers-$kver
if [ ! -d "$hdr" ]; then
	echo "$name: $hdr is missing: install linux-headers-$kver (sudo make deps installs linux-headers-amd64)" >&2
	exit 1
fi
# the source of exactly the kernel's version: 6.1.0-56-amd64 -> the
# headers package's 6.1.192-2 -> linux-source-6.1 6.1.192-2
ver=$(dpkg-query -W -f='${Version}' "linux-headers-$kver" 2>/dev/null) || {
	echo "$name: linux-headers-$kver is not installed" >&2; exit 1; }
series=$(echo "$kver" | cut -d. -f1,2)
work=$(mktemp -d /tmp/moat-testdrv.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "vm: building $name for $kver from linux-source-$series $ver" >&2
(cd "$work" && apt-get download -q "linux-source-$series=$ver" >/dev/null 2>&1) || {
	echo "$name: apt-get download linux-source-$series=$ver failed (it must be the kernel's own version)" >&2
	exit 1
}
dpkg-deb --fsys-tarfile "$work"/linux-source-*.deb |
	tar -xO "./usr/src/linux-source-$series.tar.xz" | xz -dc |
	tar -x -C "$work" --wildcards "linux-source-$series/drivers/media/test-drivers/$name/*" \
	"linux-source-$series/drivers/media/v4l2-core/v4l2-mem2mem.c"
src=$work/linux-source-$series/drivers/media/test-drivers/$name
mkdir -p "$(dirname "$out")"
extra=
if [ "$name" = vicodec ] &&
	! grep -q 'v4l2_m2m_init' "$hdr/Module.symvers"; then
	m2m=$work/m2m
	mkdir -p "$m2m"
	cp "$work/linux-source-$series/drivers/media/v4l2-core/v4l2-mem2mem.c" "$m2m/"
	echo 'obj-m += v4l2-mem2mem.o' >"$m2m/Makefile"
	make -s -C "$hdr" M="$m2m" modules >"$work/m2m.log" 2>&1 || {
		tail -20 "$work/m2m.log" >&2
		echo "$name: v4l2-mem2mem did not build against $hdr" >&2
		exit 1
	}
	cp "$m2m/v4l2-mem2mem.ko" "$(dirname "$out")/"
	extra="KBUILD_EXTRA_SYMBOLS=$m2m/Module.symvers"
fi
make -s -C "$hdr" M="$src" "$config=m" $extra modules >"$work/build.log" 2>&1 || {
	tail -20 "$work/build.log" >&2
	echo "$name: the module did not build against $hdr" >&2
	exit 1
}
cp "$src/$name.ko" "$out.tmp" && mv "$out.tmp" "$out"
depmod -b "$kroot" "$kver"
