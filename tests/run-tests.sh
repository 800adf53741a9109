#!/bin/bash
# moat test runner.
#   tests/run-tests.sh DIR... [valgrind:DIR] [fuzz:DIR] [qemu-arm64:DIR]
# Runs every test_* executable in each DIR (exit 0 pass, 1 fail, 77 skip);
# with valgrind:DIR each one under valgrind (any error or leak fails it);
# with fuzz:DIR a short run of every fuzz harness there (as many at once
# as there are cores); with
# qemu-arm64:DIR the arm64 tests named in tests/qemu-arm64.txt under
# qemu-aarch64-static on an emulated Cortex-A76 (a Pi 5). Prints one line
# per test and ends with `N passed, N failed, N skipped`; exits non-zero on
# any failure. Under CI=true a skip counts as a failure unless the test said
# "skip: kernel lacks <feature>".
set -u
cd "$(dirname "$0")/.." || exit 1
export MOAT_SRC="$PWD"
pass=0 fail=0 skip=0
failed=()
logdir=$(mktemp -d /tmp/moat-tests.XXXXXX)
FUZZ_SMOKE_SECONDS=${FUZZ_SMOKE_SECONDS:-20}

# Runs one test into its log; its exit status and time go beside it.
exec_one() {
	local name=$1; shift
	local log="$logdir/${name//\//_}.log" rc start end
	start=$(date +%s.%N)
	"$@" >"$log" 2>&1
	rc=$?
	end=$(date +%s.%N)
	awk -v a="$start" -v b="$end" -v rc=$rc \
		'BEGIN { printf "%d %.1fs\n", rc, b - a }' >"$log.rc"
}

# Prints a line for a test exec_one ran, and counts it.
report_one() {
	local name=$1
	local log="$logdir/${name//\//_}.log" rc t
	# no status (the runner's child killed, /tmp full): a failure
	if ! read -r rc t 2>/dev/null <"$log.rc" || ! [[ $rc =~ ^[0-9]+$ ]]; then
		rc=125 t='(no exit status recorded)'
	fi
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1))
		printf 'PASS  %-40s %s\n' "$name" "$t"
	elif [ "$rc" -eq 77 ]; then
		local why
		why=$(grep -m1 -i '^skip:' "$log" || echo "skip: (no reason given)")
		if [ "${CI:-}" = true ] && ! grep -qi '^skip: kernel lacks ' "$log"; then
			fail=$((fail + 1))
			failed+=("$name")
			printf 'FAIL  %-40s skipped under CI=true without a missing kernel feature: %s\n' "$name" "$why"
		else
			skip=$((skip + 1))
			printf 'SKIP  %-40s %s\n' "$name" "$why"
		fi
	else
		fail=$((fail + 1))
		failed+=("$name")
		printf 'FAIL  %-40s exit %d, %s; last lines:\n' "$name" "$rc" "$t"
		tail -n 25 "$log" | sed 's/^/      | /'
	fi
}

run_one() {
	exec_one "$@"
	report_one "$1"
}

for arg in "$@"; do
	case "$arg" in
	fuzz:*)
		# A harness is one process on one core for its seconds: as
		# many at once as there are cores, reported in order.
		dir=${arg#fuzz:}
		names=()
		for f in "$dir"/fuzz_*; do
			[ -x "$f" ] && names+=("fuzz/$(basename "$f")")
		done
		for name in "${names[@]}"; do
			while [ "$(jobs -rp | wc -l)" -ge "$(nproc 2>/dev/null || echo 1)" ]; do
				wait -n
			done
			exec_one "$name" tests/fuzz-run.sh "$dir" \
				"$FUZZ_SMOKE_SECONDS" "${name#fuzz/}" &
		done
		wait
		for name in "${names[@]}"; do
			report_one "$name"
		done
		;;
	qemu-arm64:*)
		# qemu's Cortex-A76 has AES and PMULL in AT_HWCAP, as a Pi 5
		# has: test_stream checks the cipher moat picks there.
		dir=${arg#qemu-arm64:}
		# shellcheck disable=SC2013 # one name a line, no spaces
		for name in $(sed -e 's/#.*//' tests/qemu-arm64.txt); do
			run_one "arm64/$name" env \
				MOAT_TEST_CPU_CIPHER=aes-256-gcm \
				qemu-aarch64-static -cpu cortex-a76 "$dir/$name"
		done
		;;
	valgrind:*)
		dir=${arg#valgrind:}
		for t in "$dir"/test_*; do
			[ -x "$t" ] || continue
			run_one "valgrind/$(basename "$t")" valgrind -q \
				--error-exitcode=1 --leak-check=full \
				--errors-for-leak-kinds=definite "$t"
		done
		;;
	*)
		case "$arg" in
		*san/tests) label=asan+ubsan ;;
		*) label=plain ;;
		esac
		for t in "$arg"/test_*; do
			[ -x "$t" ] || continue
			case "$t" in *.d|*.o) continue ;; esac
			run_one "$label/$(basename "$t")" "$t"
		done
		;;
	esac
done

echo "logs: $logdir"
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
if [ $skip -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ] && [ $((pass + skip)) -gt 0 ]
