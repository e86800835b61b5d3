#!/bin/sh
# The peer checks (heavy: downloads PyTorch, torchvision and onnxruntime from
# PyPI into .venv-peers/, several GB): exports SimpleCNN trained on
# Fashion-MNIST and a few torchvision classifiers to ONNX with PyTorch,
# checks pare's outputs against PyTorch's on both backends (1e-4 of the
# output's magnitude), evaluates SimpleCNN through the CLI, and times pare
# against onnxruntime and PyTorch on SimpleCNN and MobileNetV2 in the same
# run (`pare-bench models --peers`). Not part of the default test suite.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
venv=.venv-peers
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi
"$venv/bin/pip" install -q numpy onnx onnxruntime torch torchvision onnx2torch
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
out=build/peers
"$venv/bin/python" bench/peers/export_models.py "$out" --train-epochs 2 --torchvision
"$venv/bin/python" bench/peers/check_exported.py "$out" --pare build/tools/pare --backend opencl
"$venv/bin/python" bench/peers/check_exported.py "$out" --pare build/tools/pare --backend ref
./build/tools/pare eval "$out/simplecnn.onnx" --dataset fashion-mnist
echo "PyTorch's accuracy for the same weights: $(cat "$out/simplecnn.accuracy")"
for m in simplecnn mobilenet_v2; do
  ./build/bench/pare-bench models --model "$out/$m.onnx" --peers "$venv/bin/python" --reps 21
done
