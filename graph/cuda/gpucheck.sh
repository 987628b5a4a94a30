#!/bin/sh
# The GPU checks of the trainer, for a machine with an NVIDIA GPU but no Go.
#
#   sh graph/cuda/gpucheck.sh build   # anywhere with Go: bin/gpu/ (at most 64 MiB)
#   sh graph/cuda/gpucheck.sh run     # on the GPU machine, from the repository root
#
# build compiles, with CGO_ENABLED=0 and -ldflags='-s -w', the test
# binaries of graph/cuda, graph/cuda/emu, graph/cuda/kernels and graph/gpu
# and the commands trainer and bench, packs them into bin/gpu/bin.tar.gz,
# and adds bin/gpu/data_batch_1.bin.gz, the first CIFAR-10 training batch
# file (10,000 images) from $CIFAR (default
# ../shared/cifar10/cifar-10-binary-train.tar.gz). bin/ is ignored by git:
# carry bin/gpu to the GPU machine.
#
# run unpacks them into a temporary directory and writes its log to
# $OUT/gpucheck.log (or bin/gpu/gpucheck.log without $OUT), with one
# "== " line per part and "== status 0" at the end when every check
# passed:
#
#  1. the test binaries: every kernel against a float64 reference, every
#     backend operation (forward and backward) on random data against the
#     CPU backend (relative error at most 1e-4), a residual network's
#     training step through a TapeMachine (loss, logits, every gradient,
#     running statistics) and an evaluation pass against the CPU, device
#     memory unchanged by further steps;
#  2. three epochs of training on the 10,000 images (1,000 held out), the
#     default configuration and seed, once with device: cpu and once with
#     device: cuda: the final loss and validation accuracy must agree
#     within noise (loss within 5%, accuracy within 3 points);
#  3. throughput at batch 128 and 512 (training and inference) of bench
#     -device cuda, next to ../shared/bench/torch_ref.py bench --device
#     cuda when python3 with torch is there, and the device memory bench
#     reports after 10 and after 200 training steps, which must be equal.
#
# The binaries are static Go programs apart from libc and the dynamic
# loader (purego); on the GPU machine the tests find libcuda.so.1 and run
# on device 0 instead of the CPU emulator. Without a GPU, part 1 runs on
# the emulator and parts 2 and 3 fail at device: cuda, saying why.
set -eu
dir=bin/gpu
limit=$((64 * 1024 * 1024))
case "${1:-}" in
build)
	rm -rf "$dir" && mkdir -p "$dir/pack"
	for p in cuda cuda/emu cuda/kernels gpu; do
		CGO_ENABLED=0 go test -c -ldflags='-s -w' -o "$dir/pack/$(basename "$p").test" "./graph/$p"
	done
	for c in trainer bench; do
		CGO_ENABLED=0 go build -ldflags='-s -w' -o "$dir/pack/$c" "./cmd/$c"
	done
	tar -C "$dir/pack" -czf "$dir/bin.tar.gz" .
	rm -rf "$dir/pack"
	tar -xzOf "${CIFAR:-../shared/cifar10/cifar-10-binary-train.tar.gz}" cifar-10-batches-bin/data_batch_1.bin |
		gzip -c >"$dir/data_batch_1.bin.gz"
	ls -l "$dir"
	size=$(cat "$dir"/* | wc -c)
	echo "total $size bytes"
	if [ "$size" -gt "$limit" ]; then
		echo "over the 64 MiB a device session carries" >&2
		exit 1
	fi
	;;
run)
	out=${OUT:-$dir}
	log=$out/gpucheck.log
	work=$(mktemp -d)
	tar -C "$work" -xzf "$dir/bin.tar.gz"
	# The training set is data_batch_1.bin to data_batch_5.bin: the first
	# file's 10,000 records (3,073 bytes each) are cut into five of 2,000.
	mkdir -p "$work/data"
	gzip -dc "$dir/data_batch_1.bin.gz" >"$work/batch.bin"
	for i in 1 2 3 4 5; do
		dd if="$work/batch.bin" of="$work/data/data_batch_$i.bin" bs=3073 skip=$(((i - 1) * 2000)) count=2000 2>/dev/null
	done
	{
		nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || true
		status=0
		res=$(mktemp)

		echo "== 1. kernels, backend operations, training step and evaluation against the CPU"
		for t in cuda emu kernels gpu; do
			echo "-- $t"
			timeout 300 "$work/$t.test" -test.v -test.count=1 >"$res" 2>&1 || status=1
			grep -v '^=== RUN' "$res" || true
		done
		echo "-- kernel benchmarks"
		timeout 180 "$work/kernels.test" -test.run '^$' -test.bench . -test.benchtime 20x 2>&1 || status=1

		echo "== 2. three epochs on 10,000 images, cpu and cuda"
		for d in cpu cuda; do
			echo "-- device $d"
			timeout 600 "$work/trainer" -config config.yaml -force \
				-set device=$d -set seed=0 -set solver.epochs=3 \
				-set data.dir="$work/data" -set data.download=false -set data.val_size=1000 \
				-set output.name=gpucheck-$d -set output.checkpoint_dir="$work/run-$d" \
				-set output.models_dir="$work/models-$d" >"$res" 2>&1 || status=1
			tail -n 20 "$res"
			if [ "$d" = cuda ] && ! grep -q '^device: cuda:' "$res"; then
				echo "FAIL: the cuda run did not report a GPU"
				status=1
			fi
			cat "$work/run-$d/history.csv" 2>/dev/null || { echo "no history for $d"; status=1; }
		done
		# history.csv: epoch,loss,val_loss,train_acc,val_acc,lr,seconds
		if [ -f "$work/run-cpu/history.csv" ] && [ -f "$work/run-cuda/history.csv" ]; then
			tail -n 1 "$work/run-cpu/history.csv" >"$res.cpu"
			tail -n 1 "$work/run-cuda/history.csv" >"$res.cuda"
			paste -d, "$res.cpu" "$res.cuda" | awk -F, '{
				dl = ($9 - $2) / $2; if (dl < 0) dl = -dl
				da = 100 * ($12 - $5); if (da < 0) da = -da
				printf "final loss cpu %s cuda %s (relative difference %.4f); val_acc cpu %s cuda %s (difference %.2f points)\n", $2, $9, dl, $5, $12, da
				if (dl > 0.05 || da > 3) { print "FAIL: cpu and cuda runs differ by more than noise"; exit 1 }
			}' || status=1
		fi

		echo "== 3. throughput and device memory"
		for b in 128 512; do
			echo "-- batch $b: bench -device cuda"
			timeout 300 "$work/bench" -device cuda -batch "$b" -iters 200 >"$res" 2>&1 || status=1
			cat "$res"
			m10=$(awk '$1 == "device_mem_after_10_steps_mib" {print $2}' "$res")
			m200=$(awk '$1 == "device_mem_after_200_steps_mib" {print $2}' "$res")
			if [ -z "$m10" ] || [ "$m10" != "$m200" ]; then
				echo "FAIL: device memory after 10 steps '$m10' MiB, after 200 '$m200' MiB"
				status=1
			fi
			ref=
			for p in ../shared/bench/torch_ref.py shared/bench/torch_ref.py; do
				if [ -f "$p" ]; then ref=$p; fi
			done
			if python3 -c 'import torch' 2>/dev/null && [ -n "$ref" ]; then
				echo "-- batch $b: $ref bench --device cuda"
				timeout 300 python3 "$ref" bench --device cuda --batch "$b" --iters 200 2>&1 || true
			else
				echo "-- batch $b: no python3 with torch, or no torch_ref.py in ../shared/bench or shared/bench; PyTorch reference skipped"
			fi
		done
		echo "== status $status"
	} 2>&1 | tee "$log"
	rm -rf "$work"
	grep -q '^== status 0$' "$log"
	;;
*)
	echo "usage: sh graph/cuda/gpucheck.sh build|run" >&2
	exit 2
	;;
esac
