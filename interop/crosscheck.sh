#!/usr/bin/env bash
# Cross-checks the exports and the import against the real tools: PyTorch
# (the network of ../shared/bench/torch_ref.py), onnx.checker and ONNX
# Runtime, on the first 1,000 validation images (the split of data.seed and
# data.val_size, as trainer test -split val uses it).
#
#   interop/crosscheck.sh              run the checks (exit 1 if one fails)
#   interop/crosscheck.sh --have-tools exit 0 if everything the checks need
#                                      is installed, else say what is missing
#
# 1. PyTorch -> Go: torch_ref.py's reference network (config.yaml) trained a
#    few steps in PyTorch, saved as safetensors, trainer import-ed: the Go
#    logits must equal PyTorch's.
# 2. Go -> PyTorch and ONNX, for that network and for models/best.ckpt:
#    trainer export -format safetensors loaded into torch_ref.py's ResNet
#    with load_state_dict, and -format onnx checked by onnx.checker and run
#    by ONNX Runtime (onnxruntime-node): the logits must equal Go's.
# Equal means: max |logit difference| <= 1e-4 and identical predicted classes.
#
# Needs (see README, "Interop"): Debian's python3-torch, python3-onnx,
# python3-numpy and liblapack3 for /usr/bin/python3; Node with
# interop/node_modules (cd interop && npm ci); the CIFAR-10 training archive
# (CIFAR10_TRAIN, default ../shared/cifar10/cifar-10-binary-train.tar.gz);
# torch_ref.py (TORCH_REF, default ../shared/bench/torch_ref.py).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-/usr/bin/python3}
data=${CIFAR10_TRAIN:-../shared/cifar10/cifar-10-binary-train.tar.gz}
export TORCH_REF=${TORCH_REF:-../shared/bench/torch_ref.py}

# onnxruntime-node comes from interop/node_modules (npm ci) or from the
# global modules (npm install -g onnxruntime-node@VERSION of package.json).
if command -v npm >/dev/null; then
  NODE_PATH=$(npm root -g 2>/dev/null)${NODE_PATH:+:$NODE_PATH}
  export NODE_PATH
fi
missing=()
"$python" -c 'import torch, onnx, numpy' 2>/dev/null || missing+=("$python with torch, onnx and numpy (apt-get install -y python3-torch python3-onnx python3-numpy liblapack3)")
(cd interop && node -e 'require("onnxruntime-node")' 2>/dev/null) || missing+=("Node with onnxruntime-node (cd interop && npm ci)")
[ -f "$data" ] || missing+=("the CIFAR-10 training archive $data (set CIFAR10_TRAIN)")
[ -f "$TORCH_REF" ] || missing+=("torch_ref.py at $TORCH_REF (set TORCH_REF)")
if [ "${1:-}" = --have-tools ]; then
  if [ ${#missing[@]} -gt 0 ]; then
    printf 'interop/crosscheck.sh: missing %s\n' "${missing[@]}"
    exit 1
  fi
  exit 0
fi
if [ ${#missing[@]} -gt 0 ]; then
  printf 'interop/crosscheck.sh: missing %s\n' "${missing[@]}" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/trainer" ./cmd/trainer
go build -o "$tmp/logits" ./cmd/logits
passed=0
failed=0
# tally runs a check and counts it.
tally() {
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
check() { tally "$python" interop/torch_check.py "$@"; }

echo "== PyTorch -> Go: the reference network (config.yaml) trained in PyTorch, imported with trainer import"
ref=$tmp/ref
"$tmp/logits" -config config.yaml -data "$data" -n 1000 -train 1920 -out "$ref"
"$python" interop/torch_check.py train --dir "$ref" --steps 30 --out "$ref/torch.safetensors" --logits-out "$ref/torch_logits.f32"
"$tmp/trainer" import -from "$ref/torch.safetensors" -config config.yaml -o "$ref/ref.ckpt" >/dev/null
"$tmp/logits" -checkpoint "$ref/ref.ckpt" -data "$data" -n 1000 -out "$ref"
check compare-logits "$ref/torch_logits.f32" "$ref/logits.f32" --dir "$ref" --label "Go (imported) vs PyTorch, reference network"

for ckpt in "$ref/ref.ckpt" models/best.ckpt; do
  name=reference; [ "$ckpt" = models/best.ckpt ] && name=models/best.ckpt
  echo "== Go -> PyTorch and ONNX: $name"
  d=$tmp/$(basename "$ckpt" .ckpt)
  "$tmp/logits" -checkpoint "$ckpt" -data "$data" -n 1000 -out "$d"
  "$tmp/trainer" export -checkpoint "$ckpt" -format safetensors -o "$d/w.safetensors" >/dev/null
  "$tmp/trainer" export -checkpoint "$ckpt" -format onnx -o "$d/net.onnx" >/dev/null
  check compare --safetensors "$d/w.safetensors" --dir "$d" --label "PyTorch (exported safetensors) vs Go, $name"
  check check-onnx "$d/net.onnx"
  tally node interop/ort_check.mjs "$d/net.onnx" "$d" "ONNX Runtime vs Go, $name"
done

echo "interop: $passed passed, $failed failed"
[ "$failed" = 0 ]
