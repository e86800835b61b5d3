#!/bin/sh
# The pare command line: version, help, devices, and usage errors that exit
# 2 with a one-line reason. Usage: test_cli.sh PATH_TO_PARE opencl|reference
set -u
pare="$1"
backend="${2:-opencl}"
fails=0
passes=0
check() { # name, expected exit code, command...
  name="$1"; want="$2"; shift 2
  out=$("$@" 2>&1); got=$?
  # Under ASan, LeakSanitizer's exit-time tracer sometimes crashes while
  # stopping PoCL's worker threads ("Tracer caught signal 11"): a fault of
  # the checker, not of the command, whose leak report never ran. Run once more.
  case "$out" in *"LeakSanitizer has encountered a fatal error"*)
    echo "note $name: LeakSanitizer's tracer crashed; running it again"
    out=$("$@" 2>&1); got=$? ;;
  esac
  if [ "$got" -ne "$want" ]; then
    echo "FAIL $name: exit $got, want $want; output: $out"; fails=$((fails + 1))
  else
    passes=$((passes + 1))
  fi
  LAST="$out"
}
contains() { # name, needle
  case "$LAST" in *"$2"*) passes=$((passes + 1)) ;; *) echo "FAIL $1: no '$2' in: $LAST"; fails=$((fails + 1)) ;; esac
}

check version 0 "$pare" --version; contains version "pare 0."
check help 0 "$pare" help; contains help "devices"
check help-devices 0 "$pare" help devices; contains help-devices "--json"
check devices-help 0 "$pare" devices --help; contains devices-help "usage: pare devices"
check no-args 2 "$pare"
check unknown-command 2 "$pare" frobnicate; contains unknown-command "unknown command 'frobnicate'"
check unknown-flag 2 "$pare" devices --bogus; contains unknown-flag "'--bogus'"
check help-unknown 2 "$pare" help nope; contains help-unknown "'nope'"
lines=$(printf '%s\n' "$LAST" | wc -l)
[ "$lines" -eq 1 ] && passes=$((passes + 1)) || { echo "FAIL usage error is $lines lines"; fails=$((fails + 1)); }
check devices 0 "$pare" devices
if [ "$backend" = opencl ]; then contains devices "profile"; else contains devices "reference backend"; fi
check devices-json 0 "$pare" devices --json; contains devices-json "\"devices\": ["
if command -v python3 >/dev/null; then
  printf '%s' "$LAST" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert isinstance(d["devices"], list)' \
    && passes=$((passes + 1)) || { echo "FAIL devices --json is not valid JSON"; fails=$((fails + 1)); }
fi
# Models: import, info, run, and their errors (needs the ONNX test data).
data="${3:-/usr/share/libonnx-testdata/data}"
case_dir="$data/pytorch-converted/test_Conv2d"
if [ -f "$case_dir/model.onnx" ]; then
  tmp=$(mktemp -d /tmp/pare-cli-XXXXXX)
  check import 0 "$pare" import "$case_dir/model.onnx" -o "$tmp/m.pare"; contains import "imported"
  [ -s "$tmp/m.pare" ] && passes=$((passes + 1)) || { echo "FAIL import wrote nothing"; fails=$((fails + 1)); }
  check import-no-output 2 "$pare" import "$case_dir/model.onnx"; contains import-no-output "-o"
  check import-missing 1 "$pare" import "$tmp/nope.onnx" -o "$tmp/x.pare"; contains import-missing "nope.onnx"
  check import-unsupported 1 "$pare" import "$data/node/test_argmax_default_axis_example/model.onnx" -o "$tmp/x.pare"
  contains import-unsupported "ArgMax"
  [ ! -e "$tmp/x.pare" ] && passes=$((passes + 1)) || { echo "FAIL a failed import left a file"; fails=$((fails + 1)); }
  check info 0 "$pare" info "$tmp/m.pare"; contains info "Conv"; contains info "total:"
  check info-json 0 "$pare" info "$tmp/m.pare" --json --batch 3
  if command -v python3 >/dev/null; then
    printf '%s' "$LAST" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["layers"][0]["op"] == "Conv" and d["totals"]["params"] > 0' \
      && passes=$((passes + 1)) || { echo "FAIL info --json"; fails=$((fails + 1)); }
  fi
  check info-bad-batch 2 "$pare" info "$tmp/m.pare" --batch zero
  # Quantized products count their multiply-adds too: [2,2,4] x [2,4,3].
  check info-qlinear 0 "$pare" info "$data/node/test_qlinearmatmul_3D/model.onnx" --json
  if command -v python3 >/dev/null; then
    printf '%s' "$LAST" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["layers"][0]["macs"] == 48, d["layers"][0]' \
      && passes=$((passes + 1)) || { echo "FAIL info --json: QLinearMatMul multiply-adds"; fails=$((fails + 1)); }
  fi
  backends=ref
  [ "$backend" = opencl ] && backends="ref opencl"
  for b in $backends; do
    check "run-$b" 0 "$pare" run "$tmp/m.pare" --input "$case_dir/test_data_set_0/input_0.pb" -o "$tmp/out-$b.npy" --backend $b
    [ -s "$tmp/out-$b.npy" ] && passes=$((passes + 1)) || { echo "FAIL run-$b wrote nothing"; fails=$((fails + 1)); }
  done
  check run-profile 0 "$pare" run "$tmp/m.pare" --input "$case_dir/test_data_set_0/input_0.pb" --profile --runs 2
  contains run-profile "share"; contains run-profile "total"
  [ "$backend" = opencl ] && contains run-profile "device activations"
  # --no-fuse: every node its own launch, the same outputs within fp32 rounding.
  check run-no-fuse 0 "$pare" run "$tmp/m.pare" --input "$case_dir/test_data_set_0/input_0.pb" -o "$tmp/out-nf.npy" --no-fuse
  [ -s "$tmp/out-nf.npy" ] && passes=$((passes + 1)) || { echo "FAIL run-no-fuse wrote nothing"; fails=$((fails + 1)); }
  check run-no-fuse-help 0 "$pare" run --help; contains run-no-fuse-help "--no-fuse"
  check run-profile-runs 2 "$pare" run "$tmp/m.pare" --input "$case_dir/test_data_set_0/input_0.pb" --profile --runs 0
  check run-no-input 2 "$pare" run "$tmp/m.pare"
  check run-bad-backend 2 "$pare" run "$tmp/m.pare" --input "$case_dir/test_data_set_0/input_0.pb" --backend cuda
  check run-bad-input 1 "$pare" run "$tmp/m.pare" --input "$tmp/m.pare"; contains run-bad-input "m.pare"
  check run-wrong-name 1 "$pare" run "$tmp/m.pare" --input "nosuch=$case_dir/test_data_set_0/input_0.pb"
  contains run-wrong-name "nosuch"
  rm -rf "$tmp"
fi

# Training: a small copy of Fashion-MNIST (the first 640 images).
fm=/usr/share/datasets/fashion-mnist
if [ -f "$fm/train-images-idx3-ubyte.gz" ] && command -v python3 >/dev/null; then
  tmp=$(mktemp -d /tmp/pare-cli-train-XXXXXX)
  python3 - "$fm" "$tmp" <<'PY'
import gzip, struct, sys
src, dst = sys.argv[1], sys.argv[2]
for split in ("train", "t10k"):
    with gzip.open(f"{src}/{split}-images-idx3-ubyte.gz") as f:
        head = f.read(16); imgs = f.read(640 * 784)
    with gzip.open(f"{dst}/{split}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, 640, 28, 28) + imgs)
    with gzip.open(f"{src}/{split}-labels-idx1-ubyte.gz") as f:
        f.read(8); labels = f.read(640)
    with gzip.open(f"{dst}/{split}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, 640) + labels)
PY
  check train 0 "$pare" train --arch mlp --dataset "$tmp" --epochs 2 --batch 32 --val-split 0.25 -o "$tmp/m.pare"
  contains train "epoch 2/2"; contains train "validation accuracy"
  check train-eval 0 "$pare" eval "$tmp/m.pare" --dataset "$tmp"; contains train-eval "top-1 accuracy"
  check distill 0 "$pare" distill --teacher "$tmp/m.pare" --student mlp --dataset "$tmp" --epochs 1 --batch 32 -o "$tmp/s.pare"
  [ -s "$tmp/s.pare" ] && passes=$((passes + 1)) || { echo "FAIL distill wrote nothing"; fails=$((fails + 1)); }
  check distill-bad-alpha 1 "$pare" distill --teacher "$tmp/m.pare" --student mlp --dataset "$tmp" --alpha 1.5 -o "$tmp/x.pare"
  contains distill-bad-alpha "alpha"
  check train-warmup-too-long 1 "$pare" train --arch mlp --dataset "$tmp" --epochs 2 --warmup-epochs 2 -o "$tmp/x.pare"
  contains train-warmup-too-long "warm-up"
  check train-bad-seed 2 "$pare" train --arch mlp --seed abc -o "$tmp/x.pare"; contains train-bad-seed "--seed"
  check compress-fractional-epochs 2 "$pare" compress "$tmp/m.pare" --lowrank rank=4 --finetune-epochs 1.5 -o "$tmp/x.pare"
  contains compress-fractional-epochs "--finetune-epochs"
  check train-no-output 2 "$pare" train --arch mlp
  check train-bad-arch 1 "$pare" train --arch resnet9000 --dataset "$tmp" -o "$tmp/x.pare"; contains train-bad-arch "simplecnn"
  check train-bad-opt 1 "$pare" train --optimizer rmsprop --dataset "$tmp" -o "$tmp/x.pare"; contains train-bad-opt "rmsprop"
  check distill-no-teacher 2 "$pare" distill --student mlp -o "$tmp/x.pare"
  # A run resumed from its epoch-1 checkpoint ends with the same model as
  # one run straight through (reference backend: bit-for-bit).
  common="--arch simplecnn:4,8 --dataset $tmp --batch 32 --seed 3 --backend ref"
  check train-straight 0 "$pare" train $common --epochs 2 -o "$tmp/a.pare"
  check train-first 0 "$pare" train $common --epochs 1 -o "$tmp/b.pare"
  [ -s "$tmp/b.pare.ckpt" ] && passes=$((passes + 1)) || { echo "FAIL no checkpoint beside b.pare"; fails=$((fails + 1)); }
  check train-resume 0 "$pare" train $common --epochs 2 --resume -o "$tmp/b.pare"
  cmp -s "$tmp/a.pare" "$tmp/b.pare" && passes=$((passes + 1)) || { echo "FAIL resumed model differs"; fails=$((fails + 1)); }
  check train-resume-batch 1 "$pare" train $common --batch 16 --epochs 2 --resume -o "$tmp/b.pare"
  contains train-resume-batch "same --batch"
  check train-resume-none 2 "$pare" train $common --resume -o "$tmp/none.pare"; contains train-resume-none "no checkpoint"
  printf 'garbage' > "$tmp/bad.ckpt"
  check train-resume-bad 1 "$pare" train $common --resume --checkpoint "$tmp/bad.ckpt" -o "$tmp/c.pare"
  contains train-resume-bad "bad.ckpt"
  # Low-rank factorization, then one epoch of fine-tuning.
  check compress 0 "$pare" compress "$tmp/m.pare" --lowrank ratio=0.25 --skip fc3 -o "$tmp/lr.pare" --finetune-epochs 1 --dataset "$tmp" --batch 32
  contains compress "factored"; contains compress "skipped"; contains compress "fine-tuning"
  check compress-eval 0 "$pare" eval "$tmp/lr.pare" --dataset "$tmp"; contains compress-eval "top-1 accuracy"
  if [ "$backend" = opencl ]; then
    check compress-measure 0 "$pare" compress "$tmp/m.pare" --lowrank ratio=0.25 --measure-batch 8 -o "$tmp/lm.pare"
    contains compress-measure "ms alone/factored"
  fi
  check compress-measure-ref 1 "$pare" compress "$tmp/m.pare" --lowrank ratio=0.25 --measure-batch 8 --backend ref -o "$tmp/x.pare"
  contains compress-measure-ref "OpenCL"
  check compress-auto 0 "$pare" compress "$tmp/m.pare" --lowrank auto=2 --dataset "$tmp" -o "$tmp/la.pare"
  contains compress-auto "validation"
  check compress-bad-spec 1 "$pare" compress "$tmp/m.pare" --lowrank energy=2 -o "$tmp/x.pare"; contains compress-bad-spec "energy must be"
  check compress-bad-rule 1 "$pare" compress "$tmp/m.pare" --lowrank best -o "$tmp/x.pare"; contains compress-bad-rule "energy=E"
  check compress-nothing 2 "$pare" compress "$tmp/m.pare" -o "$tmp/x.pare"; contains compress-nothing "--lowrank"
  check compress-missing 1 "$pare" compress "$tmp/nope.pare" --lowrank rank=4 -o "$tmp/x.pare"; contains compress-missing "nope.pare"
  # Pruning: 80% zeros in fc1 and fc2, fine-tuned with the zeros kept (a
  # second pass at 0 reads the sparsity back), a smaller file.
  check prune 0 "$pare" compress "$tmp/m.pare" --prune 0.8 --dense last -o "$tmp/p.pare" --finetune-epochs 1 --dataset "$tmp" --batch 32
  contains prune "80.0%"; contains prune "left dense"; contains prune "fine-tuning"
  check prune-kept 0 "$pare" compress "$tmp/p.pare" --prune 0 --dense fc3 -o "$tmp/p0.pare"; contains prune-kept "80.0%"
  [ "$(wc -c < "$tmp/p.pare")" -lt "$(( $(wc -c < "$tmp/m.pare") / 3 ))" ] && passes=$((passes + 1)) || { echo "FAIL pruned file not smaller"; fails=$((fails + 1)); }
  check prune-eval 0 "$pare" eval "$tmp/p.pare" --dataset "$tmp"; contains prune-eval "top-1 accuracy"
  check prune-structured 0 "$pare" compress "$tmp/m.pare" --prune 0.5 --prune-mode structured -o "$tmp/ps.pare"
  contains prune-structured "150/300"; contains prune-structured "50/100"
  check prune-structured-eval 0 "$pare" eval "$tmp/ps.pare" --dataset "$tmp"
  check prune-nm 0 "$pare" compress "$tmp/m.pare" --prune-mode 2:4 --prune 0 --dense none -o "$tmp/pn.pare"; contains prune-nm "50.0%"
  check prune-gradual 0 "$pare" compress "$tmp/m.pare" --prune 0.5 --prune-mode global --prune-schedule gradual --finetune-epochs 2 --dataset "$tmp" --batch 32 -o "$tmp/pg.pare"
  contains prune-gradual "epoch 2/2: sparsity 0.500"
  # --prune-ramp 0.5 of 2 epochs: the full sparsity from the first.
  check prune-ramp 0 "$pare" compress "$tmp/m.pare" --prune 0.5 --prune-mode global --prune-schedule gradual --prune-ramp 0.5 --finetune-epochs 2 --dataset "$tmp" --batch 32 -o "$tmp/pg.pare"
  contains prune-ramp "epoch 1/2: sparsity 0.500"
  check prune-ramp-bad 2 "$pare" compress "$tmp/m.pare" --prune 0.5 --prune-schedule gradual --prune-ramp 0 --finetune-epochs 2 -o "$tmp/x.pare"
  contains prune-ramp-bad "--prune-ramp"
  check compress-bad-decay 2 "$pare" compress "$tmp/m.pare" --prune 0.5 --finetune-epochs 1 --weight-decay -1 -o "$tmp/x.pare"
  contains compress-bad-decay "--weight-decay"
  check prune-gradual-no-epochs 2 "$pare" compress "$tmp/m.pare" --prune 0.5 --prune-schedule gradual -o "$tmp/x.pare"
  contains prune-gradual-no-epochs "needs --finetune-epochs"
  check prune-bad-mode 1 "$pare" compress "$tmp/m.pare" --prune 0.5 --prune-mode 5:4 -o "$tmp/x.pare"; contains prune-bad-mode "'5:4'"
  check prune-bad-amount 2 "$pare" compress "$tmp/m.pare" --prune -1 -o "$tmp/x.pare"; contains prune-bad-amount "--prune"
  check prune-too-much 1 "$pare" compress "$tmp/m.pare" --prune 1 -o "$tmp/x.pare"; contains prune-too-much "[0, 1)"
  # Weight sharing after pruning: every layer at most 16 values (zero one of
  # them in the pruned layers), a file smaller than the pruned one, a model
  # that evaluates; one fine-tuning epoch
  # shares again; an integer --quant is refused, fp16 is not.
  check share 0 "$pare" compress "$tmp/m.pare" --prune 0.8 --dense last --share-bits 4 -o "$tmp/sh.pare"
  contains share "shared, 4 bits"
  printf '%s\n' "$LAST" | awk '/shared, 4 bits/ { n++; if ($5 > 16 || $5 < 2) bad = 1 } END { exit !(n == 3 && !bad) }' \
    && passes=$((passes + 1)) || { echo "FAIL share: not 3 layers of at most 16 values: $LAST"; fails=$((fails + 1)); }
  check share-info 0 "$pare" info "$tmp/sh.pare"; contains share-info "total:"
  [ "$(wc -c < "$tmp/sh.pare")" -lt "$(wc -c < "$tmp/p0.pare")" ] && passes=$((passes + 1)) || { echo "FAIL shared file not smaller than pruned"; fails=$((fails + 1)); }
  check share-eval 0 "$pare" eval "$tmp/sh.pare" --dataset "$tmp"; contains share-eval "top-1 accuracy"
  check share-finetune 0 "$pare" compress "$tmp/m.pare" --prune 0.8 --share-bits 3 --finetune-epochs 1 --dataset "$tmp" --batch 32 -o "$tmp/shf.pare"
  contains share-finetune "centroids 1 epoch(s)"; contains share-finetune "shared, 3 bits"
  # The trained centroids are still at most 8 values a layer: sharing again changes nothing.
  check share-again 0 "$pare" compress "$tmp/shf.pare" --share-bits 3 -o "$tmp/x.pare"; contains share-again " 0.000%"
  check share-reshare 0 "$pare" compress "$tmp/m.pare" --prune 0.8 --share-bits 3 --finetune-epochs 1 --share-finetune reshare --dataset "$tmp" --batch 32 -o "$tmp/shr.pare"
  contains share-reshare "epoch 1/1"
  check share-finetune-bad 2 "$pare" compress "$tmp/m.pare" --share-bits 3 --share-finetune kmeans -o "$tmp/x.pare"; contains share-finetune-bad "'kmeans'"
  check share-int8 2 "$pare" compress "$tmp/m.pare" --prune 0.8 --share-bits 4 --quant int8 -o "$tmp/x.pare"
  contains share-int8 "--share-bits cannot be combined with --quant int8"
  check share-fp16 0 "$pare" compress "$tmp/m.pare" --share-bits 4 --quant fp16 -o "$tmp/x.pare"
  check share-bad-bits 2 "$pare" compress "$tmp/m.pare" --share-bits 9 -o "$tmp/x.pare"; contains share-bad-bits "--share-bits is 1..8"
  # Quantization: int8 weights and activations calibrated on the small
  # dataset, then fp16; a smaller file that still evaluates.
  check quant 0 "$pare" compress "$tmp/m.pare" --quant int8 --calib-images 50 --dataset "$tmp" -o "$tmp/q8.pare"
  contains quant "3.9"; contains quant "(0.00392, 0)"
  [ "$(wc -c < "$tmp/q8.pare")" -lt "$(( $(wc -c < "$tmp/m.pare") / 3 ))" ] && passes=$((passes + 1)) || { echo "FAIL int8 file not smaller"; fails=$((fails + 1)); }
  check quant-eval 0 "$pare" eval "$tmp/q8.pare" --dataset "$tmp"; contains quant-eval "top-1 accuracy"
  check quant-fp16 0 "$pare" compress "$tmp/m.pare" --quant fp16 -o "$tmp/q16.pare"; contains quant-fp16 "   16 "
  check quant-bad 1 "$pare" compress "$tmp/m.pare" --quant int3 -o "$tmp/x.pare"; contains quant-bad "'int3'"
  check quant-qat 0 "$pare" compress "$tmp/m.pare" --quant int4 --qat --finetune-epochs 1 --calib-images 50 --dataset "$tmp" --batch 32 -o "$tmp/qat.pare"
  contains quant-qat "fine-tuning"; contains quant-qat "    4 "
  check quant-qat-alone 2 "$pare" compress "$tmp/m.pare" --quant int4 --qat -o "$tmp/x.pare"; contains quant-qat-alone "--qat needs"
  check quant-bad-calib 1 "$pare" compress "$tmp/m.pare" --quant int8 --calib-method kl --dataset "$tmp" -o "$tmp/x.pare"; contains quant-bad-calib "'kl'"
  check act-prune 0 "$pare" compress "$tmp/m.pare" --prune-activations 0.9 --calib-images 50 --dataset "$tmp" -o "$tmp/ap.pare"
  contains act-prune "pruned"
  check act-prune-eval 0 "$pare" eval "$tmp/ap.pare" --dataset "$tmp"
  check act-prune-bad 2 "$pare" compress "$tmp/m.pare" --prune-activations 1.5 -o "$tmp/x.pare"; contains act-prune-bad "(0, 1)"
  # Comparison: a table, a CSV row per model, an HTML report whose two
  # plots hold one point per model (parsed as XML).
  check compare 0 "$pare" compare "$tmp/m.pare" "$tmp/p.pare" "$tmp/q8.pare" --names base,pruned,int8 --dataset "$tmp" --reps 2 --html "$tmp/r.html" --csv "$tmp/r.csv"
  contains compare "pruned"; contains compare "speedup"; contains compare "report: "
  [ "$(wc -l < "$tmp/r.csv")" -eq 4 ] && passes=$((passes + 1)) || { echo "FAIL compare csv rows"; fails=$((fails + 1)); }
  python3 - "$tmp/r.html" <<'PY' && passes=$((passes + 1)) || { echo "FAIL compare html"; fails=$((fails + 1)); }
import re, sys, xml.dom.minidom
html = open(sys.argv[1]).read()
svgs = re.findall(r"<svg.*?</svg>", html, re.S)
assert len(svgs) == 2, len(svgs)
for s in svgs:
    points = xml.dom.minidom.parseString(s).getElementsByTagName("circle")
    assert sorted(p.getAttribute("data-model") for p in points) == ["base", "int8", "pruned"]
PY
  check compare-missing 1 "$pare" compare "$tmp/m.pare" "$tmp/nope.pare" --dataset "$tmp" --no-latency; contains compare-missing "nope.pare"
  check compare-none 2 "$pare" compare
  # Automated compression on the small dataset: the channel stage (fc1 and
  # fc2 can lose neurons) and the weights stage, each a scan and a search,
  # then a final model; a second run resumes both from OUT.auto-channels
  # and OUT.auto.
  check auto 0 "$pare" auto "$tmp/m.pare" --dataset "$tmp" --val-images 100 --finetune-epochs 1 --max-drop 5 --report "$tmp/auto.html" -o "$tmp/auto.pare"
  contains auto "channel search"; contains auto "weights search"; contains auto "fc2:-50%"
  contains auto "final: validation"; contains auto "saved"
  [ -s "$tmp/auto.pare.auto" ] && [ -s "$tmp/auto.pare.auto-channels" ] && [ -s "$tmp/auto.pare-front.csv" ] && [ -s "$tmp/auto.html" ] && passes=$((passes + 1)) || { echo "FAIL auto outputs"; fails=$((fails + 1)); }
  # The front's SVG parses and holds one point per CSV row, labelled by row.
  python3 - "$tmp/auto.pare-front.svg" "$tmp/auto.pare-front.csv" <<'PY' && passes=$((passes + 1)) || { echo "FAIL auto front svg"; fails=$((fails + 1)); }
import csv, sys, xml.dom.minidom
points = xml.dom.minidom.parse(sys.argv[1]).getElementsByTagName("circle")
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(rows) > 10 and len(points) == len(rows), (len(points), len(rows))
assert sorted(int(p.getAttribute("data-model")) for p in points) == list(range(len(rows)))
PY
  check auto-resume 0 "$pare" auto "$tmp/m.pare" --dataset "$tmp" --val-images 100 --finetune-epochs 1 --max-drop 5 -o "$tmp/auto.pare"
  contains auto-resume "the channel stage is done"; contains auto-resume "69 of 69 layer options already measured"
  check auto-no-channels 0 "$pare" auto "$tmp/m.pare" --dataset "$tmp" --val-images 100 --finetune-epochs 0 --no-channels --max-drop 5 -o "$tmp/auto2.pare"
  contains auto-no-channels "weights search"
  [ ! -e "$tmp/auto2.pare.auto-channels" ] && passes=$((passes + 1)) || { echo "FAIL auto --no-channels ran the channel stage"; fails=$((fails + 1)); }
  check auto-bad-share 2 "$pare" auto "$tmp/m.pare" --channel-share 2 -o "$tmp/x.pare"; contains auto-bad-share "--channel-share"
  check auto-eval 0 "$pare" eval "$tmp/auto.pare" --dataset "$tmp"
  check auto-bad-objective 2 "$pare" auto "$tmp/m.pare" --objective speed -o "$tmp/x.pare"; contains auto-bad-objective "'speed'"
  check auto-no-output 2 "$pare" auto "$tmp/m.pare"
  # Export to ONNX and back: the int8 model runs the same after the trip.
  check export 0 "$pare" export "$tmp/q8.pare" -o "$tmp/q8.onnx"
  check export-import 0 "$pare" import "$tmp/q8.onnx" -o "$tmp/q8-back.pare"
  check export-eval 0 "$pare" eval "$tmp/q8-back.pare" --dataset "$tmp" --json
  contains export-eval '"accuracy"'
  # --float-weights: the weights' DequantizeLinear folded; the reference
  # computes the same from either file.
  check export-float 0 "$pare" export "$tmp/q8.pare" -o "$tmp/q8f.onnx" --float-weights
  contains export-float "3 node(s) of constants folded into float weights"
  check export-float-eval 0 "$pare" eval "$tmp/q8f.onnx" --dataset "$tmp" --backend ref; float_acc=$LAST
  check export-int-eval 0 "$pare" eval "$tmp/q8.pare" --dataset "$tmp" --backend ref
  [ "${float_acc#*accuracy}" = "${LAST#*accuracy}" ] && passes=$((passes + 1)) || { echo "FAIL export --float-weights changed the results: $float_acc / $LAST"; fails=$((fails + 1)); }
  check export-no-output 2 "$pare" export "$tmp/q8.pare"
  check export-bad-path 1 "$pare" export "$tmp/q8.pare" -o "$tmp/no-such-dir/x.onnx"; contains export-bad-path "no-such-dir"
  check create 0 "$pare" create mlp:20,10 -o "$tmp/c.pare"; contains create "untrained"
  check create-bad 1 "$pare" create vgg99 -o "$tmp/x.pare"; contains create-bad "resnet18"
  # pare tune: usage errors; on OpenCL a short tuning run (its own cache),
  # on the reference backend a clear refusal.
  check tune-no-model 2 "$pare" tune
  check tune-bad-budget 2 "$pare" tune "$tmp/c.pare" --budget-seconds -1; contains tune-bad-budget "--budget-seconds"
  check tune-bad-batch 2 "$pare" tune "$tmp/c.pare" --batch 0; contains tune-bad-batch "--batch"
  check tune-missing 1 "$pare" tune "$tmp/none.pare"; contains tune-missing "none.pare"
  if [ "$backend" = opencl ]; then
    check tune 0 env PARE_CACHE_DIR="$tmp/cache" "$pare" tune "$tmp/c.pare" --batch 4 --reps 1 --json
    contains tune '"kernel": "gemm_f32"'; contains tune '"model_tuned_ms"'
    ls "$tmp/cache"/tuning-*.txt > /dev/null 2>&1 && passes=$((passes + 1)) || { echo "FAIL tune: no tuning file"; fails=$((fails + 1)); }
    # pare auto for latency: the layers' times go to the device's table in
    # the tuning database, where a second search (another output, so no
    # resumed scan) finds every one that its channel scan needs (the original
    # model's layers and their narrowings; the weights scan runs on what the
    # channel search chose, which timing noise may change).
    check auto-latency 0 env PARE_CACHE_DIR="$tmp/lcache" "$pare" auto "$tmp/m.pare" --dataset "$tmp" --objective latency --val-images 100 --finetune-epochs 0 --max-drop 5 -o "$tmp/al.pare"
    contains auto-latency "per-layer latency table:"; contains auto-latency "ms at batch 64"
    [ -s "$tmp/al.pare-front-latency.svg" ] && passes=$((passes + 1)) || { echo "FAIL auto-latency: no latency front SVG"; fails=$((fails + 1)); }
    grep -q "layer_ms.Gemm" "$tmp/lcache"/tuning-*.txt && passes=$((passes + 1)) || { echo "FAIL auto-latency: no layer times in the tuning database"; fails=$((fails + 1)); }
    if printf '%s\n' "$LAST" | grep -q "latency table: 0 layer"; then echo "FAIL auto-latency: the first run measured nothing"; fails=$((fails + 1)); else passes=$((passes + 1)); fi
    check auto-latency-again 0 env PARE_CACHE_DIR="$tmp/lcache" "$pare" auto "$tmp/m.pare" --dataset "$tmp" --objective latency --val-images 100 --finetune-epochs 0 --max-drop 5 -o "$tmp/al2.pare"
    contains auto-latency-again "per-layer latency table: 0 layer time(s) measured"
    if printf '%s\n' "$LAST" | grep "latency table:" | head -n 1 | grep -q "table: 0 layer"; then passes=$((passes + 1)); else echo "FAIL auto-latency-again: the channel scan measured layers again"; fails=$((fails + 1)); fi
  else
    check tune-reference 1 "$pare" tune "$tmp/c.pare"; contains tune-reference "OpenCL"
  fi
  # Ctrl-C saves the model and a checkpoint; --resume finishes the run.
  "$pare" train --arch mlp --dataset "$tmp" --batch 8 --epochs 100000 -o "$tmp/i.pare" > "$tmp/i.log" 2>&1 &
  pid=$!
  n=0; while [ ! -s "$tmp/i.pare.ckpt" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
  kill -INT $pid; wait $pid; got=$?
  [ "$got" -eq 130 ] && grep -q "add --resume" "$tmp/i.log" && [ -s "$tmp/i.pare" ] \
    && passes=$((passes + 1)) || { echo "FAIL Ctrl-C: exit $got: $(cat "$tmp/i.log")"; fails=$((fails + 1)); }
  # Resume for two more epochs than the interrupted run finished.
  more=$(($(grep -c "^epoch" "$tmp/i.log") + 2))
  check train-resume-after-int 0 "$pare" train --arch mlp --dataset "$tmp" --batch 8 --epochs $more --resume -o "$tmp/i.pare"
  contains train-resume-after-int "epoch $more/$more"
  rm -rf "$tmp"
fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
