#!/bin/bash
# Packages the lent GPU machine lacks (its image has torch, numpy, scipy, scikit-image, matplotlib,
# safetensors, tqdm, pytest; Python 3.12, no network), as one 15 MB archive, .devrun/site.tar.xz
# (.devrun is git-ignored), that travels with the working tree: name .devrun in the call's `carry`.
# GalSim's wheel is 56 MB (an unstripped 199 MB extension): stripped and without its share/
# data (sensors, Roman, SEDs: galgen draws parametric COSMOS galaxies only) it packs to ~12 MB.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .devrun /tmp/galgen-wheels && rm -rf /tmp/galgen-devsite && mkdir -p /tmp/galgen-devsite
for p in astropy==8.0.2 pyerfa==2.0.1.5 astropy-iers-data photutils==3.0.0 GalSim==2.8.5 LSSTDESC.Coord==1.3.1 \
         dask==2026.8.0 distributed==2026.8.0 partd locket tblib zict tornado; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d /tmp/galgen-wheels "$p"
done
for w in /tmp/galgen-wheels/*.whl; do unzip -q -o "$w" -d /tmp/galgen-devsite; done
strip --strip-unneeded /tmp/galgen-devsite/galsim/_galsim*.so
rm -rf /tmp/galgen-devsite/galsim/share/{sensors,roman,SEDs}
# astropy imports astropy.tests at start-up: keep every package's tests/ folder
tar cJf .devrun/site.tar.xz -C /tmp/galgen-devsite .
ls -la .devrun/site.tar.xz
