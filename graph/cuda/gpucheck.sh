#!/bin/sh
# The GPU checks of the trainer, for a machine with an NVIDIA GPU but no Go.
#
#   sh graph/cuda/gpucheck.sh build        # anywhere with Go: bin/gpu/ (at most 64 MiB)
#   sh graph/cuda/gpucheck.sh run          # on the GPU machine, from the repository root
#   sh graph/cuda/gpucheck.sh readme FILE  # back here: README's GPU table from run's results
#
# build compiles, with CGO_ENABLED=0 and -ldflags='-s -w', the test
# binaries of graph/cuda, graph/cuda/emu, graph/cuda/kernels and graph/gpu
# and the commands trainer and bench, packs them into bin/gpu/bin.tar.gz,
# and adds bin/gpu/data_batch_1.bin.gz, the first $IMAGES (default 6,000)
# images of the first CIFAR-10 training batch file from $CIFAR (default
# ../shared/cifar10/cifar-10-binary-train.tar.gz), and the PyTorch twin of
# the network, $TORCH_REF (default ../shared/bench/torch_ref.py), which the
# GPU machine does not have otherwise. bin/ is ignored by git: carry bin/gpu
# to the GPU machine. What travels is bin/gpu and every file git tracks,
# at most 64 MiB together: build stops if they are more.
#
# run unpacks them into a temporary directory and, within
# $GPUCHECK_SECONDS (default 540; a step still running then is stopped and
# fails), writes its log to
# $OUT/gpucheck.log (or bin/gpu/gpucheck.log without $OUT), with one
# "== " line per part and "== status 0" at the end when every check
# passed, and the measurements, one "key value" line each, to
# gpucheck.results beside it:
#
#  1. the test binaries: every kernel against a float64 reference, every
#     backend operation (forward and backward) on random data against the
#     CPU backend (relative error at most 1e-4), a residual network's
#     training step through a TapeMachine (loss, logits, every gradient,
#     running statistics) and an evaluation pass against the CPU, device
#     memory unchanged by further steps; then the kernel benchmarks, and
#     the upload of a batch behind running kernels, plain and staged;
#  2. three epochs of training on those images (1,000 held out), the
#     default configuration and seed, once with device: cpu and once with
#     device: cuda: the final loss and validation accuracy must agree
#     within noise (loss within 5%, accuracy within 3 points); trainer
#     test of the cuda run's model gives the same validation accuracy on
#     cuda and on cpu, and the cuda run resumes on the cpu;
#  3. throughput at batch 128 and 512 (training and inference) of bench
#     -device cuda, next to torch_ref.py bench --device cuda when python3
#     with torch is there (at batch 512 also with TF32 off, float32 as
#     here) and to bench -device cpu on two cores
#     (GOMAXPROCS=2, and taskset where there is one), and the device memory
#     bench reports after 10 and after 200 training steps, which must be
#     equal; and, for tuning, each kernel's GPU time in a training step,
#     this program's (bench -profile) and at batch 512 PyTorch's
#     (graph/cuda/torchprofile.py, torch.profiler);
#  4. the errors of a GPU index the machine does not have and of a batch
#     (60,000 images, about 200 GB) that does not fit in the GPU's memory:
#     each a message and exit status 1.
#
# readme FILE rewrites the GPU table of README.md (between the gpu:begin
# and gpu:end markers; $README names another file) from FILE, the
# gpucheck.results of a run (kept in bench/gpu/ with its log, named by
# date and device; a relative FILE is named in the table): the date, the
# device, every measurement and
# whether the issue's goals were reached (training at batch 512 at least
# 20 times the two-core CPU's and at least PyTorch's, inference at least
# 100,000 images/s).
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
		head -c $((${IMAGES:-6000} * 3073)) | gzip -c >"$dir/data_batch_1.bin.gz"
	cp "${TORCH_REF:-../shared/bench/torch_ref.py}" "$dir/torch_ref.py"
	ls -l "$dir"
	size=$(cat "$dir"/* | wc -c)
	tracked=$(git ls-files -z | xargs -0 cat | wc -c)
	echo "$dir: $size bytes; with the $tracked bytes of the files git tracks, $((size + tracked)) bytes"
	if [ $((size + tracked)) -gt "$limit" ]; then
		echo "over the 64 MiB ($limit bytes) a device session carries" >&2
		exit 1
	fi
	;;
run)
	out=${OUT:-$dir}
	log=$out/gpucheck.log
	results=$out/gpucheck.results
	work=$(mktemp -d)
	tar -C "$work" -xzf "$dir/bin.tar.gz"
	# The training set is data_batch_1.bin to data_batch_5.bin: the
	# records (3,073 bytes each) build packed are cut into five equal files,
	# of which part 2 holds $val images out for validation.
	mkdir -p "$work/data"
	gzip -dc "$dir/data_batch_1.bin.gz" >"$work/batch.bin"
	per=$(($(wc -c <"$work/batch.bin") / 3073 / 5))
	for i in 1 2 3 4 5; do
		dd if="$work/batch.bin" of="$work/data/data_batch_$i.bin" bs=3073 skip=$(((i - 1) * per)) count=$per 2>/dev/null
	done
	val=1000
	: >"$results"
	echo "train_images $((5 * per - val))" >>"$results"
	# Every step gets at most its own limit and what is left of
	# $GPUCHECK_SECONDS (default 540, under the 600 a device command may
	# run), so that a step that hangs costs the steps after it but not
	# the log and results: limit N prints min(N, seconds left), at least 1.
	deadline=$(($(date +%s) + ${GPUCHECK_SECONDS:-540}))
	limit() {
		left=$((deadline - $(date +%s)))
		if [ "$left" -lt "$1" ]; then echo $((left > 1 ? left : 1)); else echo "$1"; fi
	}
	# result KEY VALUE records a measurement for readme.
	result() { echo "$1 $2" >>"$results"; }
	# value KEY FILE prints the second field of FILE's last line whose
	# first field is KEY.
	value() { awk -v k="$1" '$1 == k {v = $2} END {print v}' "$2"; }
	{
		# A failing step is recorded in status and the checks go on.
		set +e
		result date "$(date -u +%Y-%m-%d)"
		gpu=$(timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1) || true
		echo "$gpu"
		result gpu "$gpu"
		result cpu_cores "$(nproc)"
		status=0
		res=$(mktemp)

		echo "== 1. kernels, backend operations, training step and evaluation against the CPU"
		tests=0
		for t in cuda emu kernels gpu; do
			echo "-- $t"
			timeout "$(limit 300)" "$work/$t.test" -test.v -test.count=1 >"$res" 2>&1 || tests=1
			grep -v '^=== RUN' "$res" || true
		done
		result tests_status $tests
		[ $tests = 0 ] || status=1
		echo "-- kernel benchmarks"
		timeout "$(limit 180)" "$work/kernels.test" -test.run '^$' -test.bench . -test.benchtime 20x 2>&1 || status=1
		echo "-- upload benchmark: a batch of 512 images behind four convolutions, plain and staged"
		timeout "$(limit 60)" "$work/gpu.test" -test.run '^$' -test.bench Upload -test.benchtime 100x >"$res" 2>&1 || status=1
		cat "$res"
		for u in plain staged; do
			result upload_${u}_us "$(awk -v u="BenchmarkUpload/$u" 'index($1, u) == 1 {printf "%.1f", $3 / 1000}' "$res")"
		done

		echo "== 2. three epochs on $((5 * per)) images ($val held out), cpu and cuda"
		for d in cpu cuda; do
			echo "-- device $d"
			timeout "$(limit 600)" "$work/trainer" -config config.yaml -force \
				-set device=$d -set seed=0 -set solver.epochs=3 \
				-set data.dir="$work/data" -set data.download=false -set data.val_size=$val \
				-set output.name=gpucheck-$d -set output.checkpoint_dir="$work/run-$d" \
				-set output.models_dir="$work/models-$d" >"$res" 2>&1 || status=1
			tail -n 20 "$res"
			if [ "$d" = cuda ] && ! grep -q '^device: cuda:' "$res"; then
				echo "FAIL: the cuda run did not report a GPU"
				status=1
			fi
			if cat "$work/run-$d/history.csv" 2>/dev/null; then
				# history.csv: epoch,loss,val_loss,train_acc,val_acc,lr,seconds
				tail -n 1 "$work/run-$d/history.csv" | awk -F, -v d=$d '{print "epochs3_" d "_loss " $2; print "epochs3_" d "_val_acc " $5}' >>"$results"
				awk -F, -v d=$d 'NR > 1 {s += $7} END {printf "epochs3_%s_seconds %.1f\n", d, s}' "$work/run-$d/history.csv" >>"$results"
			else
				echo "no history for $d"
				status=1
			fi
		done
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

		echo "-- the cuda run's best model evaluated on cuda and on cpu"
		for d in cuda cpu; do
			timeout "$(limit 300)" "$work/trainer" test -checkpoint "$work/models-cuda/gpucheck-cuda.ckpt" -data "$work/data" \
				-split val -device $d >"$res" 2>&1 || status=1
			grep 'accuracy' "$res" | tail -n 2
			result test_val_acc_$d "$(awk '/^val accuracy: / {sub("%", "", $3); print $3}' "$res")"
		done
		acc_cuda=$(value test_val_acc_cuda "$results")
		acc_cpu=$(value test_val_acc_cpu "$results")
		if [ -z "$acc_cuda" ] || [ "$acc_cuda" != "$acc_cpu" ]; then
			echo "FAIL: trainer test gives '$acc_cuda' % on cuda and '$acc_cpu' % on cpu"
			status=1
		fi
		echo "-- the cuda run resumed on cpu for a fourth epoch"
		timeout "$(limit 300)" "$work/trainer" -config config.yaml -resume "$work/run-cuda/last.ckpt" -allow-schedule-change \
			-set device=cpu -set seed=0 -set solver.epochs=4 \
			-set data.dir="$work/data" -set data.download=false -set data.val_size=$val \
			-set output.name=gpucheck-cuda -set output.checkpoint_dir="$work/run-cuda" \
			-set output.models_dir="$work/models-cuda" >"$res" 2>&1 || status=1
		tail -n 5 "$res"
		if [ "$(wc -l <"$work/run-cuda/history.csv")" != 5 ]; then
			echo "FAIL: the resumed run's history has not 4 epochs"
			cat "$work/run-cuda/history.csv"
			status=1
		fi

		echo "== 3. throughput and device memory"
		ref=
		for p in "$dir/torch_ref.py" ../shared/bench/torch_ref.py shared/bench/torch_ref.py; do
			if [ -z "$ref" ] && [ -f "$p" ]; then ref=$p; fi
		done
		py=
		for p in python3 /usr/bin/python3; do
			if [ -z "$py" ] && timeout 120 "$p" -c 'import torch' 2>/dev/null; then py=$p; fi
		done
		# PyTorch builds the network bench builds (config.yaml's), from the
		# arch= field bench prints, taken from a short run on the CPU so that
		# it is there even if the GPU runs fail.
		arch=$(timeout "$(limit 60)" "$work/bench" -device cpu -batch 2 -iters 1 2>&1 | tr ' ' '\n' | sed -n 's/^arch=//p' | head -1)
		echo "-- network: $arch"
		pin=
		if command -v taskset >/dev/null 2>&1; then pin="taskset -c 0,1"; fi
		for b in 128 512; do
			echo "-- batch $b: bench -device cuda"
			timeout "$(limit 300)" "$work/bench" -device cuda -batch "$b" -iters 200 >"$res" 2>&1 || status=1
			cat "$res"
			result params "$(tr ' ' '\n' <"$res" | sed -n 's/^params=//p' | head -1)"
			result go "$(awk '$1 == "go" {print $2}' "$res")"
			result go_cuda_train_$b "$(value train_img_per_s "$res")"
			result go_cuda_infer_$b "$(value infer_img_per_s "$res")"
			m10=$(value device_mem_after_10_steps_mib "$res")
			m200=$(value device_mem_after_200_steps_mib "$res")
			result mem10_$b "$m10"
			result mem200_$b "$m200"
			if [ -z "$m10" ] || [ "$m10" != "$m200" ]; then
				echo "FAIL: device memory after 10 steps '$m10' MiB, after 200 '$m200' MiB"
				status=1
			fi
			# Each kernel's GPU time, for tuning: not a check.
			echo "-- batch $b: each kernel's time on the GPU in a training step (bench -profile)"
			timeout "$(limit 120)" "$work/bench" -device cuda -batch "$b" -iters 1 -profile >"$res" 2>&1 || echo "(bench -profile failed)"
			grep -v '_per_s ' "$res"
			awk '$1 == "kernel" {n += $3; ms += $5} END {if (n) printf "go_kernel_launches_%s %d\ngo_kernel_ms_%s %.3f\n", b, n, b, ms}' b="$b" "$res" >>"$results"
			if [ -n "$py" ] && [ -n "$ref" ]; then
				echo "-- batch $b: $py $ref bench --device cuda"
				timeout "$(limit 300)" "$py" "$ref" bench --device cuda --arch "$arch" --batch "$b" --iters 200 >"$res" 2>&1 || true
				cat "$res"
				result torch_cuda_train_$b "$(value train_img_per_s "$res")"
				result torch_cuda_infer_$b "$(value infer_img_per_s "$res")"
				result torch "$(awk '$1 == "torch" {print $2}' "$res")"
				# PyTorch lets cuDNN run convolutions in TF32 on tensor cores by
				# default; this program computes in float32 throughout, so the
				# float32 figure is recorded too (batch 512 only).
				if [ "$b" = 512 ]; then
					echo "-- batch $b: the same with TF32 off (torch.backends.cudnn.allow_tf32 = False)"
					timeout "$(limit 300)" "$py" -c 'import runpy, sys, torch
torch.backends.cudnn.allow_tf32 = False
torch.backends.cuda.matmul.allow_tf32 = False
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")' "$ref" bench --device cuda --arch "$arch" --batch "$b" --iters 200 >"$res" 2>&1 || true
					cat "$res"
					result torch_cuda_fp32_train_$b "$(value train_img_per_s "$res")"
					result torch_cuda_fp32_infer_$b "$(value infer_img_per_s "$res")"
					echo "-- batch $b: PyTorch's kernels in a training step (torch.profiler; not a check)"
					timeout "$(limit 120)" "$py" graph/cuda/torchprofile.py "$ref" --arch "$arch" --batch "$b" >"$res" 2>&1 || echo "(torchprofile.py failed)"
					cat "$res"
					result torch_kernel_launches_$b "$(value torch_kernel_launches_per_step "$res")"
					result torch_kernel_ms_$b "$(value torch_kernel_ms_per_step "$res")"
				fi
			else
				echo "-- batch $b: no python3 with torch, or no torch_ref.py; PyTorch reference skipped"
			fi
			echo "-- batch $b: bench -device cpu on two cores"
			GOMAXPROCS=2 timeout "$(limit 300)" $pin "$work/bench" -device cpu -batch "$b" -iters 10 >"$res" 2>&1 || status=1
			cat "$res"
			result go_cpu2_train_$b "$(value train_img_per_s "$res")"
			result go_cpu2_infer_$b "$(value infer_img_per_s "$res")"
		done
		echo "== 4. errors: a GPU the machine does not have, a batch that does not fit"
		# Each must end with its message and exit status 1, not a panic
		# (status 2) or a hang.
		expect() { # expect PATTERN COMMAND...: COMMAND fails with status 1 and prints PATTERN
			pattern=$1
			shift
			timeout "$(limit 120)" "$@" >"$res" 2>&1
			rc=$?
			cat "$res"
			if [ $rc != 1 ] || ! grep -q "$pattern" "$res"; then
				echo "FAIL: exit status $rc, want 1 and a line matching '$pattern'"
				status=1
			fi
		}
		expect 'device 99 requested, but this machine has' "$work/bench" -device cuda:99 -batch 2 -iters 1
		expect 'out of device memory on cuda:0 .* at batch size 60000; lower -batch' "$work/bench" -device cuda -batch 60000 -iters 1
		result status $status
		echo "== results"
		cat "$results"
		echo "== status $status"
	} 2>&1 | tee "$log"
	rm -rf "$work"
	grep -q '^== status 0$' "$log"
	;;
readme)
	[ $# -eq 2 ] && [ -f "$2" ] || {
		echo "usage: sh graph/cuda/gpucheck.sh readme FILE (the gpucheck.results of a run)" >&2
		exit 2
	}
	RESULTS=$2 README=${README:-README.md} python3 - <<'PY'
import os, re, sys

path = os.environ["RESULTS"]
r = {}
for line in open(path):
    k, _, v = line.rstrip("\n").partition(" ")
    if k:
        r[k] = v
need = ["date", "gpu", "status", "go_cuda_train_512", "go_cuda_infer_512", "go_cpu2_train_512"]
missing = [k for k in need if not r.get(k)]
if missing:
    sys.exit(f"gpucheck: {path}: no {', '.join(missing)}: not the results of a complete run")

def num(k):
    try:
        return float(r[k])
    except (KeyError, ValueError):
        return None

def cell(k, fmt="{:,.0f}"):
    v = num(k)
    return fmt.format(v) if v is not None else "–"

def ratio(a, b):
    x, y = num(a), num(b)
    return f"{x / y:.2f}" if x is not None and y else "–"

gpu = r["gpu"]
lines = [
    f"Measured by `graph/cuda/gpucheck.sh` on {r['date']}: {gpu} (name, driver, memory), "
    f"{r.get('go') or 'Go'}, PyTorch {r.get('torch') or 'not run'}; reference network "
    f"({int(num('params') or 0):,} parameters), float32, 200 timed steps after 3 warm-up steps "
    f"(10 on the CPU); the two-core CPU column is this program with `-device cpu` and "
    f"GOMAXPROCS=2 on the same machine. "
    + ("Every check of the script passed." if r["status"] == "0" else "**Some checks of the script failed** (see its log).")
    + ("" if os.path.isabs(path) else f" Results: `{path}`."),
    "",
    "| images/s | batch | Go, GPU | PyTorch eager, GPU | Go ÷ PyTorch | Go, 2 CPU cores | GPU ÷ CPU |",
    "|---|---:|---:|---:|---:|---:|---:|",
]
for b in ("128", "512"):
    for what, key in (("training", "train"), ("inference", "infer")):
        lines.append(
            f"| {what} | {b} | {cell(f'go_cuda_{key}_{b}')} | {cell(f'torch_cuda_{key}_{b}')} | "
            f"{ratio(f'go_cuda_{key}_{b}', f'torch_cuda_{key}_{b}')} | {cell(f'go_cpu2_{key}_{b}')} | "
            f"{ratio(f'go_cuda_{key}_{b}', f'go_cpu2_{key}_{b}')} |")

def goal(ok):
    return "reached" if ok else "**not reached**"

t, c, p, i = num("go_cuda_train_512"), num("go_cpu2_train_512"), num("torch_cuda_train_512"), num("go_cuda_infer_512")
best_infer = max(v for v in (num("go_cuda_infer_128"), i) if v is not None)
lines += [
    "",
    f"Goals: training at batch 512 at least 20 times the two-core CPU's: {t / c:.1f} times, {goal(t >= 20 * c)}; "
    + (f"at least PyTorch's: {t / p:.2f} times, {goal(t >= p)}; " if p else "PyTorch's: not measured; ")
    + f"inference at least 100,000 images/s: {best_infer:,.0f}, {goal(best_infer >= 100000)}.",
]
if num("torch_cuda_fp32_train_512") is not None:
    lines.append(f"PyTorch lets cuDNN use TF32 tensor cores by default; with TF32 off (float32 throughout, as here) "
                 f"it made {cell('torch_cuda_fp32_train_512')} images/s training and {cell('torch_cuda_fp32_infer_512')} "
                 f"inference at batch 512 (Go ÷ PyTorch: {ratio('go_cuda_train_512', 'torch_cuda_fp32_train_512')} and "
                 f"{ratio('go_cuda_infer_512', 'torch_cuda_fp32_infer_512')}).")
if num("mem10_512") is not None:
    lines.append(f"Device memory in use after 10 and after 200 training steps: {r.get('mem10_128')} and "
                 f"{r.get('mem200_128')} MiB at batch 128, {r.get('mem10_512')} and {r.get('mem200_512')} MiB at batch 512.")
if num("go_kernel_ms_512") is not None:
    torch_k = (f"; PyTorch's {int(num('torch_kernel_launches_512') or 0)} kernels {num('torch_kernel_ms_512'):.2f} ms (torch.profiler)"
               if num("torch_kernel_ms_512") is not None else "")
    lines.append(f"GPU time of the kernels of a training step at batch 512 (each timed on the GPU): this program's "
                 f"{int(num('go_kernel_launches_512') or 0)} kernels {num('go_kernel_ms_512'):.2f} ms{torch_k}.")
if num("upload_plain_us") is not None and num("upload_staged_us") is not None:
    lines.append(f"Uploading a batch of 512 images (6.3 MB) behind four 16-channel convolutions, then waiting for both: "
                 f"{num('upload_plain_us'):,.0f} µs when the copy waits for the convolutions (a plain upload), "
                 f"{num('upload_staged_us'):,.0f} µs when it runs beside them (the staged upload every step uses).")
if num("epochs3_cpu_loss") is not None and num("epochs3_cuda_loss") is not None:
    lines.append(
        f"Three epochs on {int(num('train_images') or 0):,} of the training images, same configuration and seed: final loss "
        f"{num('epochs3_cpu_loss'):.4f} on the CPU ({r.get('cpu_cores')} cores, {r.get('epochs3_cpu_seconds')} s) and "
        f"{num('epochs3_cuda_loss'):.4f} on the GPU ({r.get('epochs3_cuda_seconds')} s); validation accuracy "
        f"{100 * num('epochs3_cpu_val_acc'):.1f} % and {100 * num('epochs3_cuda_val_acc'):.1f} %.")
table = "\n".join(lines)

p = os.environ["README"]
s = open(p).read()
new = "<!-- gpu:begin -->\n" + table + "\n<!-- gpu:end -->"
s, n = re.subn(r"<!-- gpu:begin -->.*?<!-- gpu:end -->", lambda m: new, s, flags=re.S)
if n != 1:
    sys.exit(f"gpucheck: {p}: gpu:begin and gpu:end markers not found")
open(p, "w").write(s)
print(f"{p}: GPU table rewritten from {path}")
PY
	;;
*)
	echo "usage: sh graph/cuda/gpucheck.sh build|run|readme FILE" >&2
	exit 2
	;;
esac
