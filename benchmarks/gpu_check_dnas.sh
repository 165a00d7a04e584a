#!/bin/bash
# The differentiable searches' GPU check, for a lent GPU machine (about 5 minutes): the CUDA
# tests, then one FBNet and one ProxylessNAS search at full width on Fashion-MNIST, timed.
# Usage: benchmarks/gpu_check_dnas.sh FASHION_MNIST_DIR OUT_DIR
set -u -o pipefail
data="fashion-mnist:$1"
out=$2
mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
status=0
nvidia-smi -L
timeout 240 python3 -m pytest -q -p no:cacheprovider tests/dnas/test_gpu.py > "$out/tests.log" 2>&1 || status=$?
echo "tests: exit $status"; tail -5 "$out/tests.log"
for method in proxyless fbnet; do
  timeout 200 python3 -m hwnas dnas --method "$method" --data "$data" --images 10000 \
    --epochs 2 --target-latency latency@pixel3=8,14 --device cuda --out "$out/$method" \
    > "$out/$method.log" 2>&1 || status=$?
  echo "$method: exit $status"; grep -E "expected|Run files" "$out/$method.log"
done
exit $status
