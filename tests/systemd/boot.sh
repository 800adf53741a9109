#!/bin/bash
# Boots this machine's own Debian with systemd as PID 1, in a
# systemd-nspawn container, with moat installed from BUILD as a package
# would install it, and runs SCRIPT inside once the system is up.
#
#   tests/systemd/boot.sh BUILD CLIP SCRIPT LOGDIR
#
# BUILD   the build folder whose programs are installed (make install-files)
# CLIP    an H.264 file; it becomes the installed moat.conf's one camera
# SCRIPT  run inside with bash; what it prints is printed here
# LOGDIR  where the container's console goes (console.log)
#
# The container's root is an overlay of / with a tmpfs on top, mounted in
# a private mount namespace: nothing written inside reaches this machine,
# and every mount goes when this script ends. It has a network namespace
# of its own (its nftables, its sysctls) and a bpffs of its own. This
# machine's PID 1 is not systemd, so the script puts itself in cgroups of
# its own for nspawn to run under (--keep-unit), and removes them after.
# MOAT_NSPAWN_ENV (NAME=value ...) is set for every moat unit.
# Exit status: SCRIPT's; 125 if systemd did not come up.
set -eu
if [ "${MOAT_NSPAWN_INNER:-}" != 1 ]; then
	MOAT_NSPAWN_INNER=1 exec unshare -m --propagation private "$0" "$@"
fi
build=$(cd "$1" && pwd) clip=$2 script=$3 logdir=$4
src=${MOAT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
top=$(mktemp -d /tmp/moat-nspawn.XXXXXX)
cgname=moat-nspawn-$$
nspawn=
cleanup() {
	set +e
	if [ -n "$nspawn" ] && kill -0 "$nspawn" 2>/dev/null; then
		kill -TERM "$nspawn"
		for _ in $(seq 50); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$nspawn" 2>/dev/null
	fi
	wait 2>/dev/null
	for h in unified systemd; do
		[ -d "/sys/fs/cgroup/$h/$cgname" ] || continue
		echo $$ >"/sys/fs/cgroup/$h/cgroup.procs"
		find "/sys/fs/cgroup/$h/$cgname" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	umount -R "$top" 2>/dev/null
	rmdir "$top"
}
trap cleanup EXIT

mount -t tmpfs -o mode=0755 moat-nspawn "$top"
mkdir "$top/upper" "$top/work" "$top/root"
mount -t overlay overlay \
	-o "lowerdir=/,upperdir=$top/upper,workdir=$top/work" "$top/root"
root=$top/root

# ---- moat, installed as the package does it ----
make -s -C "$src" install-files BUILD="$build" DESTDIR="$root" PREFIX=/usr \
	>/dev/null
systemd-sysusers --root="$root" moat.conf >/dev/null
systemd-tmpfiles --root="$root" --create moat.conf >/dev/null
mkdir -p "$root/usr/share/moat-test"
cp "$clip" "$root/usr/share/moat-test/clip.h264"
sed -i -e 's|^address = relay.example.net|address = 127.0.0.1|' \
	-e 's|^source = rtsp://.*|source = file:/usr/share/moat-test/clip.h264|' \
	"$root/etc/moat/moat.conf"
install -m 0755 "$script" "$root/usr/share/moat-test/inside.sh"
if [ -n "${MOAT_NSPAWN_ENV:-}" ]; then
	for u in moatd moat-policy moat-policy-watch moat-relay; do
		mkdir -p "$root/etc/systemd/system/$u.service.d"
		printf '[Service]\nEnvironment=%s\n' "$MOAT_NSPAWN_ENV" \
			>"$root/etc/systemd/system/$u.service.d/test-env.conf"
	done
fi
# nspawn gives a read-only /sys without /sys/fs/bpf, and systemd mounts
# no bpffs in a container: one of the container's own, early at boot
cat >"$root/etc/systemd/system/moat-test-bpffs.service" <<'UNIT'
[Unit]
Description=bpffs at /sys/fs/bpf (the container has none)
DefaultDependencies=no
Before=sysinit.target
ConditionPathIsMountPoint=!/sys/fs/bpf
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'mount -o remount,rw /sys && mkdir -p /sys/fs/bpf && mount -t bpf -o mode=0700 bpf /sys/fs/bpf; mount -o remount,ro /sys'
UNIT
mkdir -p "$root/etc/systemd/system/sysinit.target.wants"
ln -sf ../moat-test-bpffs.service "$root/etc/systemd/system/sysinit.target.wants/"

# ---- boot ----
for h in unified systemd; do
	mkdir "/sys/fs/cgroup/$h/$cgname"
	echo $$ >"/sys/fs/cgroup/$h/$cgname/cgroup.procs"
done
# a pure cgroup2 tree inside; nspawn's own filter refuses bpf() to
# everything PID 1 starts unless told, and moat-policy loads programs
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn -q -D "$root" -b \
	--register=no --keep-unit --private-network --capability=all \
	--system-call-filter=bpf -M moat-test --console=read-only \
	>"$logdir/console.log" 2>&1 &
nspawn=$!
# the container's PID 1: a systemd whose innermost pid is 1, below nspawn
leader=
for _ in $(seq 300); do
	for p in $(pgrep -x systemd); do
		[ "$(awk '/^NSpid:/ { print $NF }' "/proc/$p/status" 2>/dev/null)" = 1 ] || continue
		q=$p
		while [ "$q" -gt 1 ] && [ "$q" != "$nspawn" ]; do
			q=$(awk '/^PPid:/ { print $2 }' "/proc/$q/status" 2>/dev/null || echo 1)
		done
		[ "$q" = "$nspawn" ] && leader=$p && break 2
	done
	kill -0 "$nspawn" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$leader" ]; then
	echo "boot.sh: systemd did not start in the container; $logdir/console.log:" >&2
	tail -20 "$logdir/console.log" >&2
	exit 125
fi
inside() { nsenter -t "$leader" -a "$@"; }
for _ in $(seq 300); do inside test -S /run/systemd/private 2>/dev/null && break; sleep 0.1; done
state=$(timeout 120 nsenter -t "$leader" -a systemctl is-system-running --wait 2>/dev/null || true)
echo "boot: $state"
case "$state" in
running | degraded) ;;
*)
	echo "boot.sh: the container's systemd says \`$state'" >&2
	exit 125
	;;
esac
set +e
inside /bin/bash /usr/share/moat-test/inside.sh
rc=$?
inside systemctl poweroff --no-block >/dev/null 2>&1
for _ in $(seq 100); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.1; done
exit $rc
