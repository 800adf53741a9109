#!/bin/sh
# Builds the Debian packages from a build already made:
#   tools/make-deb.sh BUILD ARCH VERSION OUT
# moat (the hub: moatd and its sealer and uplink programs, moatctl,
# moat-view, moat-bench, the BPF objects, the moat-policy and moatd units) and moat-relay (the relay and its unit),
# as OUT/moat_VERSION_ARCH.deb and OUT/moat-relay_VERSION_ARCH.deb.
# Depends come from dpkg-shlibdeps on the programs, for ARCH (an arm64
# build finds its libraries through Debian's multiarch -dev packages).
set -eu
build=$1 arch=$2 version=$3 out=$4
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/moat-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# One staged install, split in two.
make -s --no-print-directory -C "$src" install-files BUILD="$build" \
	DESTDIR="$work/all" PREFIX=/usr >/dev/null
hub=$work/moat relay=$work/moat-relay
mkdir -p "$hub" "$relay/usr/bin" "$relay/usr/lib/systemd/system" \
	"$relay/usr/share/doc/moat-relay" "$relay/etc/default"
cp -a "$work/all/." "$hub/"
mv "$hub/usr/bin/moat-relay" "$relay/usr/bin/"
mv "$hub/usr/lib/systemd/system/moat-relay.service" \
	"$relay/usr/lib/systemd/system/"
cp "$src/docs/RELAY.md" "$relay/usr/share/doc/moat-relay/"
cat >"$relay/etc/default/moat-relay" <<'EOF'
# Options of moat-relay (moat-relay --help); the store is /var/lib/moat-relay.
# Listen on every address, port 7443; a quota per hub, e.g. --quota 50G.
MOAT_RELAY_ARGS="--listen 0.0.0.0:7443"
EOF

# Depends: the shared libraries the programs need, as dpkg-shlibdeps finds
# them for this architecture.
depends() { # STAGE PROGRAM...
	d=$work/shlib-$(basename "$1")
	mkdir -p "$d/debian"
	printf 'Source: moat\n\nPackage: moat\nArchitecture: any\n' \
		>"$d/debian/control"
	shift
	(cd "$d" && DEB_HOST_ARCH=$arch dpkg-shlibdeps -O "$@" 2>/dev/null) |
		sed -n 's/^shlibs:Depends=//p'
}

control() { # STAGE NAME DEPENDS DESCRIPTION [RECOMMENDS]
	mkdir -p "$1/DEBIAN"
	cat >"$1/DEBIAN/control" <<EOF
Package: $2
Version: $version
Architecture: $arch
Maintainer: moat developers <moat@localhost>
Section: net
Priority: optional
Depends: $3${5:+
Recommends: $5}
Installed-Size: $(du -sk --exclude=DEBIAN "$1" | cut -f1)
Description: $4
EOF
}

hub_deps=$(depends "$hub" "$hub/usr/sbin/moatd" \
	"$hub/usr/lib/moat/moat-sealer" "$hub/usr/lib/moat/moat-uplink" \
	"$hub/usr/bin/moatctl" "$hub/usr/bin/moat-view" "$hub/usr/bin/moat-bench")
relay_deps=$(depends "$relay" "$relay/usr/bin/moat-relay")
if [ -z "$hub_deps" ] || [ -z "$relay_deps" ]; then
	echo "make-deb: dpkg-shlibdeps found no libraries for $arch" >&2
	exit 1
fi
# a moatd built with libcamera loads its IPA modules (dlopen: not a
# library dpkg-shlibdeps sees) when a camera module starts
hub_recommends=""
case "$hub_deps" in
*libcamera*) hub_recommends="libcamera-ipa" ;;
esac
control "$hub" moat "$hub_deps, systemd, nftables" \
"home camera hub: end-to-end encrypted video, cameras walled off
 moatd seals every frame from local and IP cameras for the owner's viewers
 and sends only ciphertext to an untrusted relay; nftables and eBPF keep
 each camera talking to the hub alone. Edit /etc/moat/moat.conf, run
 moatctl doctor, then systemctl start moat-policy moatd." "$hub_recommends"
control "$relay" moat-relay "$relay_deps, systemd" \
"untrusted relay for moat hubs and viewers
 Stores the sealed records moat hubs send and serves them to viewers; it
 holds no key and cannot read what it stores."
echo /etc/moat/moat.conf >"$hub/DEBIAN/conffiles"
echo /etc/default/moat-relay >"$relay/DEBIAN/conffiles"

# postinst: the units enabled on first install and kept as the admin left
# them on upgrades (dh_installsystemd's way: was-enabled is true for a
# unit never seen); on an upgrade, running units restart on the new
# programs.
postinst() { # STAGE "UNITS" "ON FIRST INSTALL"
	cat >"$1/DEBIAN/postinst" <<EOF
#!/bin/sh
set -e
if [ "\$1" = configure ]; then
	$3
	for u in $2; do
		deb-systemd-helper unmask "\$u" >/dev/null || true
		if deb-systemd-helper --quiet was-enabled "\$u"; then
			deb-systemd-helper enable "\$u" >/dev/null || true
		else
			deb-systemd-helper update-state "\$u" >/dev/null || true
		fi
	done
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		if [ -n "\$2" ]; then
			deb-systemd-invoke try-restart $2 >/dev/null || true
		fi
	fi
fi
exit 0
EOF
}
# The hub: users and folders made; its units are not started on first
# install (moat.conf names no real camera or relay until it is edited).
# shellcheck disable=SC2016 # $2 is the maintainer script's
postinst "$hub" "moat-policy.service moatd.service" \
	'systemd-sysusers moat.conf
	systemd-tmpfiles --create moat.conf
	[ -n "$2" ] || echo "moat: edit /etc/moat/moat.conf, start moat-policy and moatd (systemctl start moat-policy moatd), then run moatctl doctor"'
# The relay needs no configuration: started on first install too.
# shellcheck disable=SC2016 # $2 is the maintainer script's
postinst "$relay" moat-relay.service \
	'if [ -z "$2" ] && [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		deb-systemd-invoke start moat-relay.service >/dev/null || true
	fi'
# prerm and postrm: units stopped on remove, masked on remove (as
# dh_installsystemd does), purged with the folders on purge.
removal() { # STAGE "UNITS" "FOLDERS"
	cat >"$1/DEBIAN/prerm" <<EOF
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "\$1" = remove ]; then
	deb-systemd-invoke stop $2 >/dev/null || true
fi
exit 0
EOF
	cat >"$1/DEBIAN/postrm" <<EOF
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
for u in $2; do
	case "\$1" in
	remove) deb-systemd-helper mask "\$u" >/dev/null || true ;;
	purge)
		deb-systemd-helper purge "\$u" >/dev/null || true
		deb-systemd-helper unmask "\$u" >/dev/null || true
		;;
	esac
done
if [ "\$1" = purge ]; then
	rm -rf $3
fi
exit 0
EOF
}
# the hub's key store and spool go with its configuration; the relay's
# store (DynamicUser keeps it under /var/lib/private) with its own
removal "$hub" "moatd.service moat-policy.service" \
	"/var/lib/moat /etc/moat /run/moat"
removal "$relay" moat-relay.service \
	"/var/lib/moat-relay /var/lib/private/moat-relay"
chmod 0755 "$hub/DEBIAN/postinst" "$hub/DEBIAN/prerm" "$hub/DEBIAN/postrm" \
	"$relay/DEBIAN/postinst" "$relay/DEBIAN/prerm" "$relay/DEBIAN/postrm"
for p in "$hub" "$relay"; do
	name=$(basename "$p")
	dpkg-deb --root-owner-group -Zxz --build "$p" \
		"$out/${name}_${version}_${arch}.deb" >/dev/null
	echo "  DEB     $out/${name}_${version}_${arch}.deb"
done
