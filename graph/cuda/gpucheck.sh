#!/bin/sh
# The GPU checks of graph/cuda, for a machine with an NVIDIA GPU but no Go.
#
#   sh graph/cuda/gpucheck.sh build   # anywhere with Go: test binaries in bin/gpu (about 32 MB)
#   sh graph/cuda/gpucheck.sh run     # on the GPU machine, from the repository root
#
# The binaries are static Go programs apart from libc and the dynamic
# loader (purego); on the GPU machine the tests find libcuda.so.1 and run
# on device 0 instead of the CPU emulator. Without a GPU, run uses the
# emulator and the benchmarks skip. If $OUT is set, the log is copied
# there too.
set -eu
dir=bin/gpu
case "${1:-}" in
build)
	mkdir -p "$dir"
	for p in cuda cuda/emu cuda/kernels; do
		CGO_ENABLED=0 go test -c -ldflags='-s -w' -o "$dir/$(basename "$p").test" "./graph/$p"
	done
	ls -l "$dir"
	;;
run)
	log=$(mktemp)
	{
		nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || true
		status=0
		out=$(mktemp)
		for t in cuda emu kernels; do
			echo "== $t"
			timeout 180 "$dir/$t.test" -test.v -test.count=1 >"$out" 2>&1 || status=1
			grep -v '^=== RUN' "$out" || true
		done
		echo "== benchmarks"
		timeout 180 "$dir/kernels.test" -test.run '^$' -test.bench . -test.benchtime 20x 2>&1 || status=1
		echo "== status $status"
	} 2>&1 | tee "$log"
	if [ -n "${OUT:-}" ]; then cp "$log" "$OUT/gpucheck.log"; fi
	grep -q '^== status 0$' "$log"
	;;
*)
	echo "usage: sh graph/cuda/gpucheck.sh build|run" >&2
	exit 2
	;;
esac
