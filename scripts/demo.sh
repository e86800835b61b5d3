#!/bin/sh
# The Fashion-MNIST demo (the README's main job): trains SimpleCNN and
# LeNet-300-100, compresses each with every method alone (pruning, int8,
# int4, low rank, distillation), with two combinations by hand (pruning +
# int8; channel pruning + pruning + 4-bit shared weights, "deep") and with
# the automated search (pare auto),
# then evaluates and times them all on this machine's OpenCL device (the
# reference backend without one) and prints one table per model, with an
# HTML report and CSV beside it.
#
#   sh scripts/demo.sh [--quick] [--out DIR]
#
# --quick trains for fewer epochs and gives pare auto fewer validation
# images (a smoke run: under 3 minutes on 2 cores); the full
# run takes about 10 minutes on 2 cores. Models, tables and reports go to
# DIR (default demo-out/).
set -eu
cd "$(dirname "$0")/.."
QUICK=0
OUT=demo-out
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --out) OUT="$2"; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "demo: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
# VAL: validation images of pare auto's scan and search.
# DEEP_*: fine-tuning epochs of the deep combination's stages (channels,
# pruning, shared weights; MLP_*: LeNet-300-100's, 8 in all as SimpleCNN's
# last two stages, one of them on the codebook); AUTO_FT: of each of pare
# auto's two stages.
if [ "$QUICK" = 1 ]; then
  EPOCHS=2; FT=1; REPS=5; VAL=1000; DEEP_ST=1; DEEP_PR=1; DEEP_SH=1; MLP_PR=1; MLP_SH=1; AUTO_FT=1
else
  EPOCHS=15; FT=2; REPS=20; VAL=5000; DEEP_ST=4; DEEP_PR=6; DEEP_SH=2; MLP_PR=7; MLP_SH=1; AUTO_FT=4
fi

if [ -z "${PARE_DEMO_NO_BUILD:-}" ]; then
  sh scripts/setup.sh
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build >/dev/null
fi
PARE=${PARE:-./build/tools/pare}
mkdir -p "$OUT"
start=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - start )) s)"; }
quiet() { "$@" > "$OUT/log.txt" 2>&1 || { cat "$OUT/log.txt"; exit 1; }; }

"$PARE" devices | head -n 3 || true

# arch, student arch, low-rank options, the structured ratio, sparsity,
# shared-weight bits and the epochs of the last two stages of the deep
# combination, then the models it makes.
demo() {
  name=$1 arch=$2 student=$3 lowrank=$4 structured=$5 sparsity=$6 bits=$7 deep_pr=$8 deep_sh=$9
  base="$OUT/$name.pare"
  step "$name: train $arch for $EPOCHS epochs"
  quiet "$PARE" train --arch "$arch" --epochs "$EPOCHS" --weight-decay 5e-4 --schedule cosine -o "$base"
  step "$name: prune 90% (global magnitude, gradual over $FT fine-tuning epochs)"
  quiet "$PARE" compress "$base" --prune 0.9 --prune-mode global --dense none \
    --prune-schedule gradual --finetune-epochs "$FT" -o "$OUT/$name-pruned.pare"
  step "$name: int8 (weights and activations, min-max calibration)"
  quiet "$PARE" compress "$base" --quant int8 -o "$OUT/$name-int8.pare"
  step "$name: int4 weights, uint8 activations"
  quiet "$PARE" compress "$base" --quant int4 --calib-method percentile -o "$OUT/$name-int4.pare"
  step "$name: low rank ($lowrank) and $FT fine-tuning epochs"
  # shellcheck disable=SC2086
  quiet "$PARE" compress "$base" $lowrank --finetune-epochs "$FT" -o "$OUT/$name-lowrank.pare"
  step "$name: distil into $student for $EPOCHS epochs"
  quiet "$PARE" distill --teacher "$base" --student "$student" --epochs "$EPOCHS" --alpha 0.5 \
    --temperature 4 --schedule cosine -o "$OUT/$name-distilled.pare"
  step "$name: combined by hand: prune 90% with fine-tuning, then int8"
  quiet "$PARE" compress "$base" --prune 0.9 --prune-mode global --dense none \
    --prune-schedule gradual --finetune-epochs "$FT" --quant int8 -o "$OUT/$name-combined.pare"
  # Deep Compression's pipeline, with channel pruning first where the model
  # has channels to spare: fewer channels (faster), then magnitude pruning
  # and shared weights with trained centroids (smaller).
  deep_in="$base"
  if [ "$structured" != 0 ]; then
    step "$name: deep combination: remove $structured of the channels, $DEEP_ST epoch(s)"
    quiet "$PARE" compress "$base" --prune "$structured" --prune-mode structured \
      --finetune-epochs "$DEEP_ST" --schedule cosine -o "$OUT/$name-deep-st.pare"
    deep_in="$OUT/$name-deep-st.pare"
  fi
  step "$name: deep combination: prune $sparsity gradually over $deep_pr epoch(s), $bits-bit shared weights ($deep_sh)"
  quiet "$PARE" compress "$deep_in" --prune "$sparsity" --prune-mode global --dense none \
    --prune-schedule gradual --prune-ramp 0.5 --finetune-epochs "$deep_pr" -o "$OUT/$name-deep-pr.pare"
  quiet "$PARE" compress "$OUT/$name-deep-pr.pare" --share-bits "$bits" --finetune-epochs "$deep_sh" \
    -o "$OUT/$name-deep.pare"
  rm -f "$OUT/$name-deep-st.pare" "$OUT/$name-deep-pr.pare"
  # pare auto asked for no loss: 0.02 points on the validation images (with
  # the six-fold allowance before fine-tuning, six images in 5000; one in
  # --quick's 1000), distilling from the trained model in both fine-tunes.
  step "$name: automated (pare auto: channels, then per-layer sparsity or rank, and bits; no loss, $AUTO_FT + $AUTO_FT epochs)"
  quiet "$PARE" auto "$base" --max-drop 0.02 --objective size --distill --channel-epochs "$AUTO_FT" \
    --finetune-epochs "$AUTO_FT" --val-images "$VAL" --report "$OUT/$name-auto.html" -o "$OUT/$name-auto.pare"
  rm -f "$OUT/$name-auto.pare.auto-channels.pare"
  step "$name: compare"
  "$PARE" compare "$base" "$OUT/$name-pruned.pare" "$OUT/$name-int8.pare" "$OUT/$name-int4.pare" \
    "$OUT/$name-lowrank.pare" "$OUT/$name-distilled.pare" "$OUT/$name-combined.pare" \
    "$OUT/$name-deep.pare" "$OUT/$name-auto.pare" \
    --names "$name,pruned-90%,int8,int4,low-rank,distilled,prune+int8,deep,auto" --reps "$REPS" \
    --title "pare on Fashion-MNIST: $name" --html "$OUT/$name.html" --csv "$OUT/$name.csv" |
    tee "$OUT/$name.txt"
}

demo simplecnn simplecnn simplecnn:8,16 "--lowrank energy=0.9 --lowrank-conv channel" 0.25 0.86 4 \
  "$DEEP_PR" "$DEEP_SH"
demo lenet-300-100 mlp mlp:100,30 "--lowrank ratio=0.25 --skip fc3" 0 0.90 5 "$MLP_PR" "$MLP_SH"
echo
echo "demo finished in $(( $(date +%s) - start )) s; tables, CSV and HTML reports in $OUT/"
