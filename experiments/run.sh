#!/usr/bin/env bash
# Trains experiments/NAME/config.yaml in the background with nohup, logging
# to experiments/NAME/train.log, resuming from experiments/NAME/last.ckpt if
# it exists. Set GOMAXPROCS to share the cores between runs. It starts the
# run at once: for a series of runs, `trainer sweep` (README: Sweeps) queues
# them, a few at a time, and ranks them.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: experiments/run.sh NAME}
dir=experiments/$name
[ -f "$dir/config.yaml" ] || { echo "no $dir/config.yaml" >&2; exit 1; }
mkdir -p bin
go build -o bin/trainer ./cmd/trainer
# The trainer rewrites config.yaml in its run directory; keep the source.
[ -f "$dir/source.yaml" ] || cp "$dir/config.yaml" "$dir/source.yaml"
resume=()
[ -f "$dir/last.ckpt" ] && resume=(-resume "$dir/last.ckpt")
nohup bin/trainer -config "$dir/source.yaml" "${resume[@]}" >> "$dir/train.log" 2>&1 &
echo "started $name (pid $!), log: $dir/train.log"
