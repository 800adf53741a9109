#!/bin/bash
# Runs inside the container tests/systemd/boot.sh boots: pairs a viewer,
# starts the installed units as an owner would, and prints what
# test_systemd checks, one `name: value' line each.
set -u
say() {
	local k=$1
	shift
	printf '%s: %s\n' "$k" "$*"
}
# Uid, CapEff and CapAmb of a process, on one line
creds() {
	awk '/^(Uid|CapEff|CapAmb):/ { printf "%s%s ", $1, $2 }' "/proc/$1/status" 2>/dev/null
}
cg=/sys/fs/cgroup/system.slice/moatd.service
in_role() { head -n1 "$cg/$1/cgroup.procs" 2>/dev/null; }
acked() {
	moatctl status --json 2>/dev/null |
		awk '/"uplink"/ { u = 1 } u && match($0, /"acked": [0-9]+/) {
			print substr($0, RSTART + 9, RLENGTH - 9); exit }'
}
wait_acked() { # more than N, within 60 s
	for _ in $(seq 120); do
		[ "$(acked)" -gt "$1" ] 2>/dev/null && return 0
		sleep 0.5
	done
	return 1
}

# the owner pairs a viewer: moatctl and moat-view run as root write the
# hub's keys into moatd's user's key store
moat-view pair --hub-keys /var/lib/moat/keys --out /root/viewer.key \
	--name test >/dev/null 2>&1
say keys "$(find /var/lib/moat/keys -newer /etc/moat/moat.conf -printf '%u ' | tr ' ' '\n' | sort -u | tr '\n' ' ')"

systemctl start moat-relay moatd
say start $?
for u in moat-policy moatd moat-policy-watch moat-relay; do
	say "active-$u" "$(systemctl is-active "$u")"
done
wait_acked 0
say acked "$(acked)"
main=$(systemctl show -p MainPID --value moatd)
say moatd "$(creds "$main")"
say moatd-cgroup "$(awk -F: '$1 == 0 { print $3 }' "/proc/$main/cgroup")"
say moatd-mounts "$(awk '$5 ~ /^\/sys\/fs\/cgroup/ { print $5, substr($6, 1, 2) }' "/proc/$main/mountinfo" | tr '\n' ',')"
for r in sealer uplink worker-front-door; do
	say "$r" "$(creds "$(in_role "$r")")"
done
say attached "$(bpftool cgroup tree "$cg" 2>/dev/null | awk 'NF >= 3 { print $3, $NF }' | sort -u | tr '\n' ',')"
say gate "$(bpftool cgroup show "$cg/uplink" 2>/dev/null | awk 'NR > 1 { print $NF }' | tr '\n' ',')"

# a restart: systemd makes moatd's cgroup anew; ExecStartPre applies the
# policy to it again, and the roles come back in their folders
before=$(acked)
systemctl restart moatd
say restart $?
say active-after-restart "$(systemctl is-active moatd)"
wait_acked "${before:-0}"
say acked-after-restart "$(acked)"
say sealer-after-restart "$(creds "$(in_role sealer)")"

# a stop: systemd signals moatd's whole cgroup; no role may be left
t0=$(date +%s)
systemctl stop moatd
say stop "$? $(($(date +%s) - t0))"
say left "$(ps -eo user=,comm= | awk '$1 ~ /^moat/ && $2 != "moat-relay" { print }' | tr '\n' ',')"
journalctl -q -o cat --no-pager -u moatd | sed 's/^/journal-moatd: /'
journalctl -q -o cat --no-pager -u moat-policy-watch | sed 's/^/journal-watch: /'
exit 0
