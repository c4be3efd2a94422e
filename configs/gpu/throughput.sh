#!/bin/bash
# The GPU checks of issues #16 and #18 as one prepared command (no training):
#   configs/gpu/build_site.sh                       # once, here: packages the machine lacks -> .devrun/
#   device run: bash configs/gpu/throughput.sh   (carry: [".devrun"], timeout_s 590; the steps take <= 535 s)
# 1. the gpu tests; 2. benchmarks/gpu.py (forward fp32 vs bf16, predict_many, pipeline, utilisation);
# 3. benchmarks/catalog.py on the GPU: a 900-galaxy field end to end against the in-memory rate,
#    then a 100,000-stamp catalog over a 10,000^2 mosaic with the default model (#18: stamps/s,
#    peak RSS; GPU utilisation sampled by nvidia-smi every 2 s); 4. the posterior sampler's time
#    per stamp for --samples 16 on the GPU (#16), 8 held-out pairs a set, no card update.
# Each step has its own timeout (535 s in all); logs come back in $OUT. Dry run on a CPU machine (done 2026-12-03):
#   PY=.venv/bin/python SITE=none DEVICE=cpu MEMORY=2000 SIDE=2000 N=40 OUT=/tmp/o bash configs/gpu/throughput.sh
T0=$(date +%s); PY=${PY:-python3}; DEVICE=${DEVICE:-cuda}
MEMORY=${MEMORY:-100000}; SIDE=${SIDE:-10000}; N=${N:-900}
if [ "${SITE:-.devrun/site.tar.xz}" != none ]; then
  mkdir -p /tmp/site && tar xJf "${SITE:-.devrun/site.tar.xz}" -C /tmp/site || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 MPLBACKEND=Agg TQDM_DISABLE=1
el() { echo "[t=$(( $(date +%s) - T0 ))s] $*"; }
# the catalog runs call `galgen`: a tiny launcher on PATH for this interpreter
mkdir -p /tmp/gbin && printf '#!/bin/sh\nexec %s -m galgen.cli "$@"\n' "$($PY -c 'import sys; print(sys.executable)')" \
  > /tmp/gbin/galgen && chmod +x /tmp/gbin/galgen && export PATH=/tmp/gbin:$PATH
{ el start; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1; nproc
  $PY -c "import torch, astropy, galsim, photutils, dask, galgen; print('torch', torch.__version__, torch.cuda.is_available())" || exit 1
} > $OUT/throughput.txt 2>&1 || { cat $OUT/throughput.txt; exit 1; }
if [ "$DEVICE" = cuda ]; then
  timeout 90 $PY -m pytest -m gpu tests/test_gpu.py -p no:cacheprovider -q > $OUT/pytest_gpu.txt 2>&1; echo "rc=$?" >> $OUT/pytest_gpu.txt
  el "gpu tests done" >> $OUT/throughput.txt
  timeout 100 $PY benchmarks/gpu.py >> $OUT/throughput.txt 2>&1; echo "gpu.py rc=$?" >> $OUT/throughput.txt
fi
( while sleep 2; do nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader; done ) \
  > $OUT/nvidia_smi.csv 2>/dev/null &
WATCH=$!
el "catalog" >> $OUT/throughput.txt
timeout 280 $PY benchmarks/catalog.py --n $N --repeats 1 --memory $MEMORY --memory-side $SIDE --memory-method default \
  --device $DEVICE --batch-size 512 >> $OUT/throughput.txt 2>&1; echo "catalog.py rc=$?" >> $OUT/throughput.txt
kill $WATCH 2>/dev/null
el "posterior" >> $OUT/throughput.txt
timeout 60 $PY benchmarks/uncertainty.py --model survey_x2 -n 8 --samples 16 --device $DEVICE \
  --figure $OUT/reliability_gpu.png >> $OUT/throughput.txt 2>&1; echo "uncertainty.py rc=$?" >> $OUT/throughput.txt
el end >> $OUT/throughput.txt
