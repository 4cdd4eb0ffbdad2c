#!/usr/bin/env bash
# Installs what ReluMIP needs that a fresh Debian machine with Swift may lack: GLPK and zlib
# headers (apt-get). Options (any order):
#   --python          also the Python packages of the scripts in Scripts/ (pip)
#   --fashion-mnist   also Debian's dataset-fashion-mnist (the 70,000 Fashion-MNIST images as IDX
#                     files in /usr/share/datasets/fashion-mnist), for Scripts/fashion_test_set.sh
set -euo pipefail

need_apt=()
[ -f /usr/include/glpk.h ] || need_apt+=(libglpk-dev)
[ -f /usr/include/zlib.h ] || need_apt+=(zlib1g-dev)
python=false
for option in "$@"; do
  case "$option" in
    --python) python=true ;;
    --fashion-mnist)
      [ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] ||
        need_apt+=(dataset-fashion-mnist)
      ;;
    *) echo "error: unknown option $option" >&2; exit 64 ;;
  esac
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "Installing ${need_apt[*]} with apt-get" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if $python; then
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  if ! python3 -c "import numpy, sklearn, onnx, onnxruntime, joblib" 2>/dev/null; then
    echo "Installing the Python packages of Scripts/requirements.txt with pip" >&2
    python3 -m pip install -q -r "$here/requirements.txt"
  fi
fi
