#!/usr/bin/env bash
# Fuzzing Warren's decoders (issue 14): targets live in Sources/warren-fuzz, corpora in Tests/fuzz/corpus/<target>/.
#
#   bash Tests/fuzz/run.sh replay                  every corpus (seeds and crash regressions) through the normal
#                                                  debug build, no fuzzer; what CI runs. Exits non-zero on a failure.
#   bash Tests/fuzz/run.sh fuzz TARGET SECONDS     builds with libFuzzer + ASan in .build-fuzz and fuzzes TARGET,
#                                                  adding new inputs to a scratch corpus (.build-fuzz/corpus/TARGET)
#                                                  and writing crashes to Tests/fuzz/crashes/. Extra arguments go
#                                                  to libFuzzer (e.g. -runs=10000000).
#   bash Tests/fuzz/run.sh seed                    regenerates the seed corpora from the fixtures and writers.
#   bash Tests/fuzz/run.sh list                    the targets.
set -euo pipefail
cd "$(dirname "$0")/../.."
corpus=Tests/fuzz/corpus

debug_binary() {
    swift build --product warren-fuzz >&2
    echo "$(swift build --show-bin-path)/warren-fuzz"
}

fuzz_binary() {
    local flags=(-c release --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DWARREN_FUZZING
                 -Xswiftc -enable-testing)
    swift build "${flags[@]}" --product warren-fuzz >&2
    echo "$(swift build "${flags[@]}" --show-bin-path)/warren-fuzz"
}

case "${1:-}" in
replay)
    bin=$(debug_binary)
    passed=0 failed=0
    for target in $("$bin" list | cut -f1); do
        [ -d "$corpus/$target" ] || continue
        # A target that traps dies without a summary: count the whole target as one failure.
        if out=$("$bin" replay "$target" "$corpus/$target" 2>&1); then status=0; else status=$?; fi
        summary=$(printf '%s\n' "$out" | tail -n 1)
        if [[ "$summary" =~ ^$target:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
            passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
            [ "$status" -eq 0 ] || printf '%s\n' "$out"
        else
            printf '%s\n' "$out" | tail -n 30
            echo "$target: replay died (status $status)"
            failed=$((failed + 1))
        fi
    done
    echo "fuzz replay: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    ;;
fuzz)
    target=${2:?usage: run.sh fuzz TARGET SECONDS [libFuzzer options]}
    seconds=${3:?usage: run.sh fuzz TARGET SECONDS [libFuzzer options]}
    shift 3
    bin=$(fuzz_binary)
    scratch=.build-fuzz/corpus/$target
    mkdir -p "$scratch" Tests/fuzz/crashes
    # Swift's own crash backtracer runs under ASan and trips it, hiding the trap; libFuzzer prints the stack instead.
    export SWIFT_BACKTRACE=enable=no
    # 2 GB of RSS and 512 MB per allocation: a length field that makes a decoder reserve its claim shows up here.
    exec "$bin" "$target" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 \
        -print_final_stats=1 -artifact_prefix=Tests/fuzz/crashes/"$target"- "$@" "$scratch" "$corpus/$target"
    ;;
seed)
    bin=$(debug_binary)
    "$bin" seed "$PWD" "$corpus"
    ;;
list)
    "$(debug_binary)" list
    ;;
*)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
