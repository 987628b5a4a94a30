#!/usr/bin/env bash
# Runs the Go benchmark (go run ./cmd/bench) and the PyTorch reference
# (../shared/bench/torch_ref.py bench) back to back on the same network,
# batch and iteration count, and prints both results and the ratios.
#
#   bench/compare.sh [--readme] [-batch 128] [-iters 20] [-runs 5]
#
# The two programs run -runs times, alternating, and the table shows the
# median of each measurement (PyTorch's throughput on this kind of shared
# 2-core machine varies by 10-20 % from one run to the next); every run is
# printed as well.
# With --readme it also rewrites the performance table of README.md
# (between the perf:begin and perf:end markers) from this run.
# Needs Debian's python3-torch: apt-get install -y python3-torch
set -euo pipefail
cd "$(dirname "$0")/.."

readme=0
batch=128
iters=20
runs=5
while [ $# -gt 0 ]; do
  case "$1" in
    --readme) readme=1 ;;
    -batch) batch="$2"; shift ;;
    -iters) iters="$2"; shift ;;
    -runs) runs="$2"; shift ;;
    *) echo "usage: bench/compare.sh [--readme] [-batch N] [-iters N] [-runs N]" >&2; exit 2 ;;
  esac
  shift
done
torch_ref=${TORCH_REF:-../shared/bench/torch_ref.py}
[ -f "$torch_ref" ] || { echo "bench/compare.sh: $torch_ref not found (set TORCH_REF)" >&2; exit 1; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "bench/compare.sh: PyTorch is missing: apt-get install -y python3-torch" >&2; exit 1; }

go build -o bin/bench ./cmd/bench
val() { echo "$1" | awk -v k="$2" '$1 == k {print $2}' | tail -1; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
go_trains=(); go_infers=(); go_rsss=(); t_trains=(); t_infers=(); t_rsss=()
for run in $(seq "$runs"); do
  go_out=$(/usr/bin/time -f 'max_rss_kib %M' bin/bench -batch "$batch" -iters "$iters" 2>&1)
  # PyTorch builds the network of Go's run: the arch= field of its first line.
  arch=$(echo "$go_out" | tr ' ' '\n' | sed -n 's/^arch=//p' | head -1)
  torch_out=$(/usr/bin/time -f 'max_rss_kib %M' /usr/bin/python3 "$torch_ref" bench --batch "$batch" --iters "$iters" --arch "$arch" 2>&1)
  go_trains+=("$(val "$go_out" train_img_per_s)"); go_infers+=("$(val "$go_out" infer_img_per_s)"); go_rsss+=("$(val "$go_out" max_rss_kib)")
  t_trains+=("$(val "$torch_out" train_img_per_s)"); t_infers+=("$(val "$torch_out" infer_img_per_s)"); t_rsss+=("$(val "$torch_out" max_rss_kib)")
  echo "run $run: Go train ${go_trains[-1]} infer ${go_infers[-1]}; PyTorch train ${t_trains[-1]} infer ${t_infers[-1]}"
done
go_train=$(median "${go_trains[@]}"); go_infer=$(median "${go_infers[@]}"); go_rss=$(median "${go_rsss[@]}")
t_train=$(median "${t_trains[@]}"); t_infer=$(median "${t_infers[@]}"); t_rss=$(median "${t_rsss[@]}")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.0f", k / 1024}'; }
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
flags=$(grep -o -w -E 'avx2|avx512f' /proc/cpuinfo | sort -u | paste -sd' ')

echo "== Go (last run)"; echo "$go_out"
echo "== PyTorch (last run)"; echo "$torch_out"
echo "== machine: $cpu, $(nproc) cores, ${flags}"
echo "== medians of $runs runs"
printf '%-22s %12s %12s %8s\n' "" "Go" "PyTorch" "ratio"
printf '%-22s %12s %12s %8s\n' "train images/s" "$go_train" "$t_train" "$(ratio "$go_train" "$t_train")"
printf '%-22s %12s %12s %8s\n' "inference images/s" "$go_infer" "$t_infer" "$(ratio "$go_infer" "$t_infer")"
printf '%-22s %12s %12s\n' "peak RSS (MiB)" "$(mib "$go_rss")" "$(mib "$t_rss")"

if [ "$readme" = 1 ]; then
  table=$(cat <<EOT
Measured by \`bench/compare.sh --readme\` on $(date -u +%Y-%m-%d): $cpu, $(nproc) cores ($flags), $(echo "$go_out" | head -1 | cut -d' ' -f2), $(echo "$torch_out" | grep '^torch' | cut -d' ' -f1-3). Reference network (43,226 parameters), batch $batch, $iters timed steps after 3 warm-up steps, float32; median of $runs alternating runs of each program (Go training $(echo "${go_trains[@]}" | tr ' ' '/'), inference $(echo "${go_infers[@]}" | tr ' ' '/'); PyTorch training $(echo "${t_trains[@]}" | tr ' ' '/'), inference $(echo "${t_infers[@]}" | tr ' ' '/') images/s).

| | Go (this project) | PyTorch (torch_ref.py) | ratio |
|---|---:|---:|---:|
| training images/s (forward + backward + SGD step) | $go_train | $t_train | $(ratio "$go_train" "$t_train") |
| inference images/s (eval mode) | $go_infer | $t_infer | $(ratio "$go_infer" "$t_infer") |
| peak resident memory (MiB) | $(mib "$go_rss") | $(mib "$t_rss") | |
EOT
)
  TABLE="$table" python3 - <<'PY'
import os, re
p = "README.md"
s = open(p).read()
new = "<!-- perf:begin -->\n" + os.environ["TABLE"] + "\n<!-- perf:end -->"
s, n = re.subn(r"<!-- perf:begin -->.*?<!-- perf:end -->", lambda m: new, s, flags=re.S)
if n != 1:
    raise SystemExit("README.md: perf markers not found")
open(p, "w").write(s)
PY
  echo "README.md performance table updated"
fi
