#!/bin/bash
# One lease of the lent GPU machine (15 minutes of device time in all), as one prepared command:
#   configs/gpu/build_site.sh                       # once, here: packages the machine lacks -> .devrun/
#   device run: bash configs/gpu/lease.sh   (carry: [".devrun"], timeout_s 590)
# 1. benchmarks/gpu.py (AMP vs float32, GPU utilisation, pipeline) and the gpu tests;
# 2. 4,000 training pairs simulated by 16 processes (runs/gpuA, shared with run B by a hard link);
# 3. runs A and B (configs/gpu/*.toml) side by side on the one GPU, each with --time-budget so
#    both end before BUDGET_S; their checkpoints and logs come back in $OUT (8 files at most).
# Session 3 (2026-11-26) lesson: 12,000 pairs did not finish in 170 s on that machine's 16 cores
# (4,000 take ~3.5 min on one core here); suspected, not verified: GalSim's OpenMP threads, 16 per process in 16
# processes. The pool now runs one thread per process (also OMP_NUM_THREADS=1 below), and this
# simulates 4,000 pairs and logs the rate.
# Session 3 measured the benchmarks and passed the gpu tests (docs/benchmarks.md): SKIP_BENCH=1 gives
# their ~80 s to training. Tried on the CPU VM as a dry run (both runs trained, 7 files came back).
# Knobs for a dry run on a CPU machine: PY (python), SITE=none (no archive), CONFIGS (run configs),
# BUDGET_S (seconds for the whole command), BENCH_ARGS, SKIP_BENCH.
T0=$(date +%s); DEADLINE=$((T0 + ${BUDGET_S:-540})); PY=${PY:-python3}; CONFIGS=${CONFIGS:-configs/gpu}
if [ "${SITE:-.devrun/site.tar.xz}" != none ]; then
  mkdir -p /tmp/site && tar xJf "${SITE:-.devrun/site.tar.xz}" -C /tmp/site || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 MPLBACKEND=Agg
el() { echo "[t=$(( $(date +%s) - T0 ))s] $*"; }
{ el start; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc
  $PY -c "import torch, numpy, astropy, galsim, photutils, dask, galgen; print('torch', torch.__version__, torch.cuda.is_available(), 'numpy', numpy.__version__)" || exit 1
} > $OUT/bench.txt 2>&1 || { cat $OUT/bench.txt; exit 1; }
if [ -z "$SKIP_BENCH" ]; then
  TQDM_DISABLE=1 timeout 150 $PY benchmarks/gpu.py $BENCH_ARGS >> $OUT/bench.txt 2>&1; echo "gpu.py rc=$?" >> $OUT/bench.txt
  el "bench done" >> $OUT/bench.txt
fi
mkdir -p runs/gpuA runs/gpuB && cp checkpoints/default_x2/checkpoint.pt checkpoints/default_x2/log.csv runs/gpuA/
( timeout 150 $PY -m pytest -m gpu tests/test_gpu.py -p no:cacheprovider -q > $OUT/pytest.txt 2>&1; echo "rc=$?" >> $OUT/pytest.txt ) &
OMP_NUM_THREADS=1 timeout 200 $PY -c "
import time
from galgen.train.restoration import load_config
cfg = load_config('$CONFIGS/gpuA.toml'); t = time.time()
cfg.training_pairs()  # the cache train() reads, in runs/gpuA
print('simulated', cfg.train_pairs, 'pairs in', round(time.time() - t, 1), 's')
" > $OUT/train.txt 2>&1
ln -f runs/gpuA/pairs_0_*.npz runs/gpuB/ 2>> $OUT/train.txt || { wait; el "no training pairs: stop" >> $OUT/train.txt; exit 1; }
wait
TB=$((DEADLINE - $(date +%s) - 30)); el "training budget ${TB}s" >> $OUT/train.txt
for r in gpuA gpuB; do
  TQDM_DISABLE=1 timeout $((TB + 60)) $PY -m galgen.cli train --config $CONFIGS/$r.toml --time-budget $TB > runs/$r.log 2>&1 &
done
sleep 30; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv >> $OUT/train.txt
wait
el "training done" >> $OUT/train.txt
for r in gpuA gpuB; do
  echo "== $r" >> $OUT/train.txt; { grep -E "val_psnr|Trace|Error" runs/$r.log | tail -30; tail -4 runs/$r.log; } >> $OUT/train.txt
  cp runs/$r/checkpoint.pt $OUT/${r}_checkpoint.pt; cp runs/$r/log.csv $OUT/${r}_log.csv
done
el end >> $OUT/train.txt
