#!/bin/bash
# Runs libFuzzer harnesses for a fixed time each.
#   tests/fuzz-run.sh FUZZDIR SECONDS [NAME...]
# Each harness starts from tests/fuzz/corpus/NAME (committed seeds) plus any
# seeds the harness writes itself, and keeps its growing corpus under
# FUZZDIR/corpus/NAME. A crash leaves its input in FUZZDIR/artifacts/ and
# fails the run.
set -u
dir=$1 secs=$2
shift 2
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for f in "$dir"/fuzz_*; do names+=("$(basename "$f")"); done
fi
rc=0
for n in "${names[@]}"; do
	work="$dir/corpus/$n"
	mkdir -p "$work" "$dir/artifacts"
	seeds=()
	[ -d "tests/fuzz/corpus/$n" ] && seeds+=("tests/fuzz/corpus/$n")
	echo "fuzz: $n for ${secs}s"
	MOAT_FUZZ_SEED_DIR="$work" "$dir/$n" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$dir/artifacts/$n-" \
		"$work" "${seeds[@]}" 2>&1 | tail -n 30
	[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
done
exit $rc
