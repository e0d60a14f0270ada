#!/usr/bin/env bash
# Rebuilds the photograph sets the real-world runs (models/training/realworld-*) trained, validated
# and were judged on, from Debian packages (apt-get download: no install) and ../shared's T91 and
# BSD200 (run `npm run build` first):
#   bash scripts/make-photo-sets.sh SHARED_DATA_DIR OUT_DIR
# OUT_DIR/train    T91 + BSD200 + photos/: 72 sub-images of 200x200 from 9 KDE Plasma wallpapers (2560x1600, downscaled 4x)
# OUT_DIR/val      four skimage photographs (astronaut, chelsea, coffee, motorcycle_left)
# OUT_DIR/heldout  11 photographs never trained or validated on: 8 from opencv-doc and matplotlib's
#                  grace_hopper (downscaled 2x), KDE's Kite and Path (downscaled 4x)
# The downscaling (the project's antialiased bicubic) removes the JPEG artefacts of the originals.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: bash scripts/make-photo-sets.sh SHARED_DATA_DIR OUT_DIR" >&2; exit 2; }
shared=$(realpath "$1"); out=$(realpath -m "$2")
here=$(cd "$(dirname "$0")/.." && pwd)
for d in T91 BSD200; do [ -d "$shared/$d" ] || { echo "error: $shared/$d: no such folder" >&2; exit 1; }; done
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download plasma-workspace-wallpapers opencv-doc python-matplotlib-data python3-skimage >/dev/null)
for f in "$work"/*.deb; do dpkg -x "$f" "$work/x"; done
x="$work/x"; wp="$x/usr/share/wallpapers"; prep() { node "$here/scripts/prepare-data.mjs" "$@" >/dev/null; }
mkdir -p "$out/train" "$out/val" "$out/heldout" "$work/wp" "$work/ho2" "$work/ho4"
cp "$shared"/T91/* "$shared"/BSD200/* "$out/train/"
for w in BytheWater ColdRipple ColorfulCups DarkestHour EveningGlow FallenLeaf Grey OneStandsOut summer_1am; do
  cp "$wp/$w/contents/images/2560x1600.jpg" "$work/wp/$w.jpg"
done
prep --out "$out/train/photos" --downscale 4 --crop 200 "$work/wp"
sk="$x/usr/lib/python3/dist-packages/skimage/data"
cp "$sk/astronaut.png" "$sk/chelsea.png" "$sk/coffee.png" "$sk/motorcycle_left.png" "$out/val/"
cv="$x/usr/share/doc/opencv-doc/examples/data"
for f in fruits building messi5 home apple orange butterfly ela_original; do cp "$cv/$f.jpg" "$work/ho2/"; done
cp "$x/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg" "$work/ho2/"
cp "$wp/Kite/contents/images/2560x1600.jpg" "$work/ho4/Kite.jpg"; cp "$wp/Path/contents/images/2560x1600.jpg" "$work/ho4/Path.jpg"
prep --out "$out/heldout" --downscale 2 "$work/ho2"
prep --out "$out/heldout" --downscale 4 "$work/ho4"
echo "$out: train $(find "$out/train" -type f | wc -l), val $(ls "$out/val" | wc -l), heldout $(ls "$out/heldout" | wc -l) images"
