#!/usr/bin/env bash
# The paper-size network on a lent GPU, in one call of about 9 minutes:
#   1. GPU inference benchmarks of the shipped lite weights and of the paper-size network (python -m engine bench);
#   2. training-step throughput of the config (python -m training bench): samples/s, TFLOP/s, share of bf16 peak;
#   3. prepare (archive + store, in worker processes), then pre-training and fine-tuning with epochs chosen from
#      the measured throughput so that both fit TRAIN_MINUTES, then evaluation on the test and held-out runs.
# Every stage logs to one file and the results are re-packed after each stage, so a run cut short still returns
# what it finished.
#
# Usage: bash training/paper_gpu.sh [RESULT_DIR] [TRAIN_MINUTES] [CONFIG]
#   RESULT_DIR     where log.txt and paper_gpu.tgz go (default $OUT if set, else data/paper_gpu)
#   TRAIN_MINUTES  pre-training + fine-tuning wall time to aim at (default 4)
#   CONFIG         training config (default training/configs/paper_short.yaml)
# INFERENCE_BENCH=0 skips step 1; COMPILE_BENCH=1 adds the lite network under torch.compile to it (minutes more). A machine without eccodes / netCDF4 installs them from wheels in .whl/ (see training/README.md).
set -u
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    sed -n '2,/^set -u/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
fi
RESULT=${1:-${OUT:-data/paper_gpu}}
MINUTES=${2:-4}
CONFIG=${3:-training/configs/paper_short.yaml}
mkdir -p "$RESULT"
RESULT=$(cd "$RESULT" && pwd)
WORK=$(mktemp -d)
LOG="$RESULT/log.txt"
export PYTHONUNBUFFERED=1 TQDM_DISABLE=1
: >"$LOG"

if ! python3 -c "import eccodes, netCDF4" 2>/dev/null && [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        >>"$LOG" 2>&1 && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi

pack() { tar czf "$RESULT/paper_gpu.tgz" -C "$WORK" . 2>>"$LOG"; }

step() {  # step NAME COMMAND...: run, log, time; the output also lands in $WORK/NAME.out
    local name=$1 t0 rc
    shift
    t0=$(date +%s)
    echo "=== $name: $*" >>"$LOG"
    "$@" >"$WORK/$name.out" 2>>"$LOG"
    rc=$?
    cat "$WORK/$name.out" >>"$LOG"
    echo "=== $name: exit $rc after $(($(date +%s) - t0)) s" | tee -a "$LOG"
    pack
    return $rc
}

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv 2>&1
    python3 -c "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda)"
    git log -1 --format='commit %H %s' 2>/dev/null
    # A copied checkout's .git can be older than its files: this hash names the code that actually ran.
    echo "code sha256 (engine/ training/ *.py): $(find engine training -name '*.py' | sort | xargs sha256sum | sha256sum | cut -c1-16)"
} >"$WORK/env.out" 2>&1
cat "$WORK/env.out" >>"$LOG"

if [ "${INFERENCE_BENCH:-1}" = 1 ]; then
    step bench_inference_lite python3 -m engine bench --model lite --repeats 3 --json
    step bench_inference_paper python3 -m engine bench --model paper --repeats 3 --json
    if [ "${COMPILE_BENCH:-0}" = 1 ]; then
        step bench_inference_lite_compiled python3 -m engine bench --model lite --repeats 3 --compile --json
    fi
fi
step bench_training python3 -m training bench --config "$CONFIG" --repeats 10 --json
step prepare python3 -m training prepare --config "$CONFIG" || exit 1

# Epochs that fit the minutes: measured step throughput, 0.7 of it for data loading, ~1 s per epoch checkpoint.
RUN_CONFIG="$WORK/$(basename "$CONFIG")"
python3 - "$CONFIG" "$WORK/bench_training.out" "$MINUTES" "$RUN_CONFIG" <<'EOF' 2>>"$LOG" | tee -a "$LOG" || exit 1
import json, sys
import yaml
from training.config import load_config
from training.store import Store

config, bench, minutes, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
cfg = load_config(config)
store = Store(cfg.data.store)
speed = {s["stage"]: 0.7 * s["samples_per_s"] for s in json.load(open(bench))["stages"]}
samples = {"pretrain": len(store.indices("train")) + len(store.indices("val")), "finetune": len(store.indices("train"))}
raw = yaml.safe_load(open(config))
for stage, share in (("pretrain", 0.55), ("finetune", 0.45)):
    epoch_s = samples[stage] / speed[stage] + 1.0
    raw[stage]["epochs"] = max(1, int(share * minutes * 60 // epoch_s))
    print(f"{stage}: {samples[stage]} samples/epoch, ~{epoch_s:.1f} s/epoch -> {raw[stage]['epochs']} epochs")
raw["source_note"] = f"{config} with epochs fitted to {minutes} min from {bench}"
open(out, "w").write(yaml.safe_dump(raw, sort_keys=False))
EOF
cp "$RUN_CONFIG" "$WORK/config.yaml"
step pretrain python3 -m training pretrain --config "$RUN_CONFIG"
step finetune python3 -m training finetune --config "$RUN_CONFIG"
OUT_DIR=$(python3 -c "from training.config import load_config; import sys; c = load_config(sys.argv[1]); print(c.out_dir, c.results_dir)" "$RUN_CONFIG")
cp "${OUT_DIR% *}/train_log.jsonl" "$WORK/" 2>>"$LOG"
step evaluate python3 -m training evaluate --config "$RUN_CONFIG"
cp "${OUT_DIR#* }"/{evaluation.json,README.md} "$WORK/" 2>>"$LOG"
pack
echo "done: $RESULT/paper_gpu.tgz" | tee -a "$LOG"
