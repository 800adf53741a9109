#!/bin/bash
# Boots Debian's stock kernel under qemu (no KVM needed) with a small
# initramfs and runs a test program inside it, for what this machine's
# kernel lacks: V4L2 (the vivid driver, as a module of the stock kernel).
#
#   tests/vm/vm.sh CACHE LOG PROGRAM [ARGS...]
#
# CACHE   a folder for the kernel and modules (kept between runs)
# LOG     the guest's serial console, whole
# PROGRAM a test binary; it runs in the guest as PROGRAM ARGS, with its
#         shared libraries, as pid 1's child, with /dev/video* from vivid
#         (or the drivers MOAT_VM_MODULES names, default "vivid"; "vimc"
#         and "vicodec" are built for the kernel by tests/vm/testdrv.sh;
#         NAME:PARAM=VALUE,... loads one with module parameters)
# Files named in MOAT_VM_FILES (space separated) are copied in at the same
# path; MOAT_VM_ENV (NAME=value ...) is set for the program. The guest's
# output is printed; the exit status is the program's (125 if the guest
# did not say, e.g. it did not boot).
#
# The kernel is `apt-get download'ed from Debian's archive (the package
# linux-image-amd64 depends on), so this needs that archive and qemu-system-x86,
# busybox-static and kmod (tools/debian-packages.txt).
set -eu
cache=$1 log=$2 prog=$3
shift 3
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# ---- the kernel and its modules ----
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$pkg" ] || { echo "vm: cannot tell which kernel linux-image-amd64 is" >&2; exit 125; }
kver=${pkg#linux-image-}
kroot=$cache/$kver
if [ ! -e "$kroot/boot/vmlinuz-$kver" ]; then
	echo "vm: fetching $pkg from Debian's archive" >&2
	rm -rf "$kroot.tmp" && mkdir -p "$kroot.tmp"
	(cd "$kroot.tmp" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
		{ echo "vm: apt-get download $pkg failed" >&2; exit 125; }
	dpkg-deb -x "$kroot.tmp"/*.deb "$kroot.tmp/root"
	depmod -b "$kroot.tmp/root" "$kver"
	rm -rf "$kroot" && mv "$kroot.tmp/root" "$kroot" && rm -rf "$kroot.tmp"
fi

# ---- the initramfs ----
work=$(mktemp -d /tmp/moat-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
ir=$work/root
mkdir -p "$ir"/{bin,dev,proc,sys,tmp,mods,moat}
cp /bin/busybox "$ir/bin/busybox"
for t in sh mount insmod poweroff sleep cat echo ls mkdir ln rm uname ip find; do
	ln -s busybox "$ir/bin/$t"
done
# the drivers and everything they need, in load order, each once
modules=
for spec in ${MOAT_VM_MODULES:-vivid}; do
	m=${spec%%:*}
	modules="$modules $m"
	[ "$spec" != "$m" ] && echo "${spec#*:}" | tr ',' ' ' >"$work/$m.args"
done
for m in $modules; do
	case $m in
	vimc | vicodec) "$(dirname "$0")/testdrv.sh" "$kroot" "$kver" "$m" || exit 125 ;;
	esac
done
for m in $modules; do
	modprobe -d "$kroot" -S "$kver" --show-depends "$m" >> "$work/deps.txt" ||
		{ echo "vm: no module $m for $kver" >&2; exit 125; }
done
awk '$1 == "insmod" && !seen[$2]++ { print $2 }' "$work/deps.txt" > "$work/mods.txt"
n=0
while read -r m; do
	n=$((n + 1))
	dst=$ir/mods/$(printf '%02d' $n)-$(basename "$m")
	cp "$m" "$dst"
	args=$work/$(basename "$m" .ko).args
	[ -e "$args" ] && cp "$args" "$dst.args"
done < "$work/mods.txt"
# the program, its libraries and the loader
copy() {
	local f=$1
	[ -e "$ir$f" ] && return 0
	mkdir -p "$ir$(dirname "$f")"
	cp -L "$f" "$ir$f"
}
progabs=$(readlink -f "$prog")
copy "$progabs"
for f in $(ldd "$progabs" | awk '/=>/ { print $3 } !/=>/ && /^\t\// { print $1 }'); do
	copy "$f"
done
for f in ${MOAT_VM_FILES:-}; do
	copy "$(readlink -f "$f")"
	# a program among them brings its libraries
	for l in $(ldd "$f" 2>/dev/null | awk '/=>/ { print $3 } !/=>/ && /^\t\// { print $1 }'); do
		copy "$l"
	done
done
args=""
for a in "$@"; do args="$args '$a'"; done
cat > "$ir/init" <<EOF
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /mods/*.ko; do
	insmod \$m \$(cat \$m.args 2>/dev/null) || echo "vm: insmod \$m failed"
done
sleep 1
# no udevd here: libudev (libcamera's device enumerator) skips a device
# node udev has not seen, so each one gets the record udev would leave
mkdir -p /run/udev/data
for d in /sys/class/video4linux/* /sys/bus/media/devices/*; do
	[ -e "\$d/dev" ] && echo "I:1" > /run/udev/data/c\$(cat \$d/dev)
done
echo "MOAT-VM-START \$(uname -r)"
${MOAT_VM_ENV:-} $progabs $args
echo "MOAT-VM-EXIT \$?"
poweroff -f
EOF
chmod +x "$ir/init"
(cd "$ir" && find . | cpio -o -H newc --quiet) > "$work/initrd.cpio"

# ---- boot ----
# TCG (no KVM here); the guest powers itself off when the program ends
timeout "${MOAT_VM_TIMEOUT:-600}" qemu-system-x86_64 -machine pc -cpu max \
	-m "${MOAT_VM_MEM:-2048}" -smp 2 -nographic -no-reboot \
	-kernel "$kroot/boot/vmlinuz-$kver" -initrd "$work/initrd.cpio" \
	-append "console=ttyS0 panic=-1 quiet loglevel=3" \
	> "$log" 2>&1 || true
# the program's part of the console (kernel messages may share a line),
# without the files it sent out (vmout)
tr -d '\r' < "$log" | sed -n '/MOAT-VM-START/,/MOAT-VM-EXIT/p' |
	sed -e '/^MOAT-FILE /,/^MOAT-FILE-END /d' \
	    -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\x1b[a-zA-Z]//g'
rc=$(tr -d '\r' < "$log" | sed -n 's/.*MOAT-VM-EXIT \([0-9][0-9]*\).*/\1/p' | tail -1)
exit "${rc:-125}"
