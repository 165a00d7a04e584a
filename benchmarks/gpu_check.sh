#!/bin/bash
# The supernet's GPU check, sized for a lent GPU machine (about 8 minutes on an H200):
# the CUDA-only tests, 60 timed sandwich steps, then the inherited-vs-stand-alone tau run.
# Usage: benchmarks/gpu_check.sh FASHION_MNIST_DIR OUT_DIR [EPOCHS]
# Full logs go to OUT_DIR (tests.log, steps.log, bench.log) with the tau run's results.json;
# the tau run itself lives in /tmp/gpu_check_sbench, so a rerun on the same machine resumes.
set -u -o pipefail
data="fashion-mnist:$1"
out=$2
epochs=${3:-3}
mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
status=0

nvidia-smi -L
timeout 180 python3 -m pytest -q -p no:cacheprovider tests/supernet/test_gpu.py \
  tests/supernet/test_extract.py tests/supernet/test_vit.py tests/cost/test_measure.py \
  tests/test_training.py > "$out/tests.log" 2>&1
echo "tests: exit $?"; tail -5 "$out/tests.log"

# sandwich steps at batch 128 with the default (static shapes on CUDA): the first steps
# include cuDNN's planning for each input resolution
rm -f /tmp/gpu_check_steps.safetensors
timeout 240 python3 - "$data" > "$out/steps.log" 2>&1 <<'EOF'
import sys, time
from hwnas.supernet import SupernetConfig, train_supernet

stamps = [time.perf_counter()]

def on_step(done, total, loss):
    stamps.append(time.perf_counter())
    print(f"step {done}/{total}: {stamps[-1] - stamps[-2]:.3f} s, loss {loss:.3f}", flush=True)

cfg = SupernetConfig(data=sys.argv[1], dataset="fashion-mnist", epochs=1, batch_size=128,
                     lr=0.1, train_images=60 * 128)
train_supernet(cfg, "/tmp/gpu_check_steps.safetensors", device="cuda", on_step=on_step)
EOF
echo "steps: exit $?"; tail -5 "$out/steps.log"

# the tau run on the small-input layout: 20,000 training images, two stand-alone seeds (the
# reference's own seed-to-seed tau), everything on the GPU
timeout 420 python3 benchmarks/supernet.py --space mbv3-tiny --standalone-seeds 2 \
  --out /tmp/gpu_check_sbench --data "$data" \
  --train-images 20000 --epochs "$epochs" --batch-size 128 --lr 0.1 --val-images 6000 \
  --calib-images 2000 --device cuda > "$out/bench.log" 2>&1 || status=$?
echo "tau run: exit $status"; grep -v "  step" "$out/bench.log" | tail -20
cp /tmp/gpu_check_sbench/results.json "$out/results.json" 2>/dev/null
exit $status
