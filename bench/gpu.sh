#!/usr/bin/env bash
# The GPU check in one script, for a Linux x86-64 machine with an NVIDIA GPU that may have neither
# Node nor a Vulkan loader, and no network (the `device` machines lent to some tasks).
#
#   bash bench/gpu.sh --pack        here, on a machine with the project built: fills .gpu/ (git-ignored,
#                                   about 45 MB) with what the GPU machine needs: node (xz), the
#                                   runtime packages (Dawn for linux-x64 only), dist/, dist-bench/,
#                                   T91 from ../shared/data (training images, never committed) and
#                                   Debian's Vulkan loader packages (libvulkan1 and friends).
#   bash bench/gpu.sh [OUT]         there (carry .gpu): unpacks .gpu/ under /tmp, finds the NVIDIA
#                                   Vulkan driver, runs the benchmark suite (3 minutes at most) and a
#                                   5-minute training run of the paper generator (batch 16, 96x96), and
#                                   writes every figure into OUT (default $OUT, else bench/gpu-results):
#                                   gpu.log (all output), nvidia-smi.txt, bench.json, train.jsonl.
# Nine minutes at most in all. Without an NVIDIA GPU it says so and stops (SRGAN_GPU_ANY=1 runs it
# on whatever adapter Dawn picks, which is how the script itself is tested on the CPU machines).
set -uo pipefail
cd "$(dirname "$0")/.."
PACK=.gpu

if [ "${1:-}" = "--pack" ]; then
  set -e
  [ -f dist/train.js ] && [ -f dist-bench/bench/bench.js ] || { echo "gpu.sh: run npm run build first" >&2; exit 1; }
  rm -rf "$PACK" && mkdir -p "$PACK/debs"
  xz -T2 -6 -c "$(command -v node)" > "$PACK/node.xz"
  mods=$(mktemp -d)
  mkdir -p "$mods/node_modules/webgpu/dist"
  for m in pngjs jpeg-js wgpu-matrix; do cp -r "node_modules/$m" "$mods/node_modules/"; done
  cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$mods/node_modules/webgpu/"
  cp -r node_modules/webgpu/dist/linux-x64 "$mods/node_modules/webgpu/dist/"
  tar -C "$mods" -cJf "$PACK/runtime.tar.xz" node_modules
  rm -rf "$mods"
  tar -cJf "$PACK/project.tar.xz" dist dist-bench shaders models/default.safetensors package.json
  [ -d ../shared/data/T91 ] && tar -C ../shared/data -cJf "$PACK/data.tar.xz" T91
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64'
  (cd "$PACK/debs" && apt-get $o download libvulkan1 >/dev/null)
  du -sh "$PACK"
  echo "packed $PACK: carry it to the GPU machine and run: bash bench/gpu.sh"
  exit 0
fi

OUTDIR=${1:-${OUT:-bench/gpu-results}}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
exec > >(tee "$OUTDIR/gpu.log") 2>&1
START=$(date +%s)
say() { echo "[gpu.sh $(( $(date +%s) - START ))s] $*"; }
[ -d "$PACK" ] || { say "no $PACK folder: run 'bash bench/gpu.sh --pack' first and carry $PACK"; exit 1; }

ROOT=/tmp/srgan-gpu
rm -rf "$ROOT" && mkdir -p "$ROOT/bin" "$ROOT/gl" "$ROOT/app"
xz -dc "$PACK/node.xz" > "$ROOT/bin/node" && chmod +x "$ROOT/bin/node"
tar -C "$ROOT/app" -xJf "$PACK/runtime.tar.xz"
tar -C "$ROOT/app" -xJf "$PACK/project.tar.xz"
[ -f "$PACK/data.tar.xz" ] && mkdir -p "$ROOT/data" && tar -C "$ROOT/data" -xJf "$PACK/data.tar.xz"
export PATH="$ROOT/bin:$PATH" XDG_RUNTIME_DIR=/tmp

# The Vulkan loader: the system's, else the one from the carried Debian packages (unpacked privately).
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
  for f in "$PACK"/debs/*.deb; do [ -f "$f" ] && dpkg -x "$f" "$ROOT/gl"; done
  export LD_LIBRARY_PATH="$ROOT/gl/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
  say "Vulkan loader from the carried packages"
fi
# The NVIDIA driver's Vulkan manifest, where the loader may not look by itself.
for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
  if [ -f "$f" ] && [ -z "${VK_DRIVER_FILES:-}" ] && [ -z "${SRGAN_GPU_ANY:-}" ]; then export VK_DRIVER_FILES="$f"; say "Vulkan driver manifest $f"; fi
done
(nvidia-smi || echo "nvidia-smi: not available") > "$OUTDIR/nvidia-smi.txt" 2>&1
node --version

cd "$ROOT/app"
adapter=$(node -e "import('./dist/node/gpu.js').then(async (m) => { const g = await m.getGpu({ verbose: false }); console.log(g.describe()); process.exit(0); }).catch((e) => { console.log('ERROR ' + e.message); process.exit(0); })")
say "adapter: $adapter"
if [ -z "${SRGAN_GPU_ANY:-}" ] && ! echo "$adapter" | grep -qi nvidia; then
  say "no NVIDIA adapter (got: $adapter); stopping"
  exit 1
fi

BENCH_S=${SRGAN_GPU_BENCH_S:-180}   # shorter budgets test the script itself on a CPU machine
TRAIN_S=${SRGAN_GPU_TRAIN_S:-300}
say "benchmark suite (at most ${BENCH_S} s)"
timeout "$BENCH_S" node dist-bench/bench/bench.js --runs 3
cp bench/results/*.json "$OUTDIR/bench.json" 2>/dev/null || say "the suite did not finish: its rows are in gpu.log"

budget=$(( 8 * 60 + 30 - ($(date +%s) - START) ))
train=$(( budget < TRAIN_S ? budget - 20 : TRAIN_S ))
if [ "$train" -gt 30 ] && [ -d "$ROOT/data/T91" ]; then
  say "training the paper generator for ${train} s (phase 1, batch 16, 96x96 crops, T91)"
  node dist/train.js --data "$ROOT/data/T91" --out "$ROOT/run" --max-time "${train}s" --quiet \
    --set phase1Steps=1000000 --set phase2Steps=0 --set checkpointEvery=1000000 --set previewEvery=0 --set logEvery=5
  cp "$ROOT/run/log.jsonl" "$OUTDIR/train.jsonl" 2>/dev/null || say "the training run wrote no log line"
  [ -f "$OUTDIR/train.jsonl" ] && node -e "const l = require('fs').readFileSync('$OUTDIR/train.jsonl', 'utf8').trim().split('\n').map(JSON.parse).filter((r) => r.steps_per_s);
    const last = l.slice(-5); console.log('training: ' + l[l.length - 1].step + ' steps; last rates ' + last.map((r) => r.steps_per_s.toFixed(2)).join(', ') + ' steps/s');" || true
else
  say "no time or no data left for the training run"
fi
say "done; figures in $OUTDIR"
