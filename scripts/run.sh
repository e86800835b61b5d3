#!/bin/sh
# The main job of the README: the Fashion-MNIST demo (scripts/demo.sh):
# set-up, build, train SimpleCNN and LeNet-300-100, compress them with each
# method and a combination, evaluate and time everything on this machine,
# print the before/after tables and write HTML reports to demo-out/.
# Arguments go to the demo (--quick for a short run).
set -eu
cd "$(dirname "$0")/.."
exec sh scripts/demo.sh "$@"
