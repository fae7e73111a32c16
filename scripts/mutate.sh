#!/usr/bin/env bash
# make mutate: mutation testing of authcore and the service's core
# (docs/TESTING.md). gremlins changes one operator at a time (> into >=,
# + into -, && into ||, ...) and runs the package's own tests; a mutant
# that no test notices has lived. cmd/mutants then sums up each package
# and holds the living against testdata/equivalent-mutants.txt.
#
#   scripts/mutate.sh                      every package below
#   scripts/mutate.sh authcore/ocra ...    some of them
#
# MUTATE_WORKERS sets gremlins' workers (default: one per core).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

gremlins=github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0
packages=(authcore/ocra authcore/digits authcore/protocol authcore/verifier authcore/device authcore/vault
	portal/core internal/ratelimit)
goals=(-goal 'authcore/...=95' -goal portal/core=90 -goal internal/ratelimit=90)
[ $# -gt 0 ] && packages=("$@")

out=build/mutate
mkdir -p "$out"
# go install of a version leaves go.mod alone: gremlins is not a
# dependency of ibkey.
GOBIN="$PWD/$out" go install "$gremlins"
workers=()
[ -n "${MUTATE_WORKERS:-}" ] && workers=(--workers "$MUTATE_WORKERS")

runs=()
for pkg in "${packages[@]}"; do
	name=${pkg//\//_}
	start=$SECONDS
	# A generous timeout: a loaded machine must not pass a slow test run
	# off as a mutant that hangs.
	if ! "$out/gremlins" unleash "${workers[@]}" --timeout-coefficient 10 -o "$out/$name.json" "./$pkg" >"$out/$name.log" 2>&1; then
		tail -30 "$out/$name.log"
		echo "mutate: gremlins failed on $pkg (log: $out/$name.log)"
		exit 1
	fi
	printf '== %s: %s (%ds)\n' "$pkg" "$(grep -o 'Test efficacy: [0-9.]*%' "$out/$name.log" || echo 'no figure')" $((SECONDS - start))
	runs+=("$pkg:$out/$name.json")
done
echo
go run ./cmd/mutants "${goals[@]}" "${runs[@]}"
