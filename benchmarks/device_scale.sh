#!/usr/bin/env bash
# The scale curve's GPU points (item 5 of the where-it-helps study): ~100M parameters and the
# Llama-3.2-1B architecture, both from scratch in bf16 on the full NL-RX-SYNTH split, as ONE run
# that ends inside BUDGET seconds (default 540: under the device tool's 10-minute command limit).
#
# Runs from the repository root on a GPU machine that has torch and transformers (a lent H200
# does) and needs, beside the checkout:
#   .gpu_data/nl-rx/llm-jepa-split/synth_{train,test}.jsonl   the real split (jepa-lab download
#                                                              nlrx, or a local copy)
#   .whl/plotly-*.whl (optional)                               where plotly is not installed
# benchmarks/README.md ("GPU points") gives the preparation and the device call.
#
# Points run in order of value, each one invocation of where_it_helps.py that reuses the runs
# before it, so whatever the budget cuts off, every finished point is in $OUT/where_it_helps_gpu.json:
#   100m seed 0 -> llama-1b-arch seed 0 -> 100m seeds 0 1 -> 100m seeds 0 1 2
# SMOKE=1 runs the same loop on CPU at toy size (the test suite does).
set -u
OUT=${OUT:-runs/device_scale}
BUDGET=${BUDGET:-540}
mkdir -p "$OUT"
start=$(date +%s)
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PYTHON=${PYTHON:-python3}
if ls .whl/*.whl >/dev/null 2>&1; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/jepa_lab_site .whl/*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/jepa_lab_site"
fi
if [ "${SMOKE:-0}" = 1 ]; then
    plan=("tiny|0" "tiny|0 1")
    extra=(--generated --epochs 1 --train-size 8 --eval-size 2)
else
    plan=("100m|0" "llama-1b-arch|0" "100m|0 1" "100m|0 1 2")
    extra=(--data-dir "$PWD/.gpu_data")
fi
{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
    "$PYTHON" -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), '| transformers', transformers.__version__)"
} > "$OUT/environment.txt" 2>&1
cat "$OUT/environment.txt"
for step in "${plan[@]}"; do
    size=${step%%|*}
    seeds=${step#*|}
    left=$(( BUDGET - ($(date +%s) - start) ))
    if [ "$left" -lt 30 ]; then
        echo "budget spent: stopping before $size seeds $seeds"
        break
    fi
    echo "=== $size seeds $seeds ($left s left)"
    # shellcheck disable=SC2086  # seeds is a list
    timeout "$left" "$PYTHON" benchmarks/where_it_helps.py --parts scale --sizes "$size" \
        --seeds $seeds --threads 8 --out "${STORE:-/tmp/jepa_lab_device_store}" --json "$OUT/where_it_helps_gpu.json" \
        "${extra[@]}" 2>&1 | tee -a "$OUT/log.txt" | grep -v "it/s\]"
done
echo "total $(( $(date +%s) - start )) s"
