#!/usr/bin/env bash
# Runs on the GPU machine from the repo root, with .carry/ made by tools/device/bundle.sh:
#   tools/device/run-on-device.sh SCRIPT [ARGS...]
# Unpacks Node, node_modules and dist into the repo copy there, installs the Vulkan loader and glvnd
# (dpkg -x into /, as the device README says), points Vulkan/EGL at the NVIDIA driver when it is
# mounted, checks the WebGPU EP with probeWebGpu, then runs SCRIPT with the carried Node (.ts through
# tsx). ARBOR_SKIP_PROBE=1 skips the check; ARBOR_DEB_ROOT=DIR unpacks the debs into DIR instead of /
# and puts its libraries on LD_LIBRARY_PATH (no root needed). Exit status: SCRIPT's, or 3 when setup fails.
set -uo pipefail
cd "$(dirname "$0")/../.."

fail() { echo "run-on-device: $*" >&2; exit 3; }
[ $# -ge 1 ] || fail "usage: tools/device/run-on-device.sh SCRIPT [ARGS...]"
c=.carry
for f in node.xz modules.tar.xz dist.tar.xz debs; do [ -e "$c/$f" ] || fail "$c/$f is missing: run tools/device/bundle.sh here first and name .carry in the run's carry list"; done

node=/tmp/arbor-node/bin/node
if [ ! -x "$node" ]; then
  mkdir -p "$(dirname "$node")" && xz -dc "$c/node.xz" >"$node.part" && chmod +x "$node.part" && mv "$node.part" "$node" || fail "cannot unpack $c/node.xz"
fi
# It replaces node_modules and dist, and writes into /: refuse where they were not made by it.
mark=node_modules/.arbor-device-bundle
if { [ -e node_modules ] || [ -e dist ]; } && [ ! -e "$mark" ]; then
  fail "node_modules or dist exists and did not come from a bundle: this script is for the GPU machine's copy of the repo"
fi
rm -rf node_modules dist
xz -dc "$c/modules.tar.xz" | tar xf - || fail "cannot unpack $c/modules.tar.xz"
xz -dc "$c/dist.tar.xz" | tar xf - || fail "cannot unpack $c/dist.tar.xz"
touch "$mark"

deb_root=${ARBOR_DEB_ROOT:-/}
for f in "$c"/debs/*.deb; do dpkg -x "$f" "$deb_root" || fail "dpkg -x $f $deb_root failed"; done
if [ "$deb_root" = / ]; then
  ldconfig
else
  export LD_LIBRARY_PATH=$deb_root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$nvidia_icd" ]; then
  export VK_DRIVER_FILES=$nvidia_icd
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
export PATH=$(dirname "$node"):$PATH
echo "run-on-device: node $("$node" --version), VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}" >&2

if [ "${ARBOR_SKIP_PROBE:-0}" != 1 ]; then
  "$node" --input-type=module -e '
    const { probeWebGpu } = await import(process.cwd() + "/dist/shards/webgpu-probe.js");
    try {
      const p = await probeWebGpu();
      console.error(`run-on-device: WebGPU probe ok in ${p.totalMs.toFixed(0)} ms (fp16: ${p.fp16})`);
    } catch (e) {
      console.error(`run-on-device: ${e.message}\n${e.detail ?? ""}`);
      process.exit(3);
    }' || exit 3
fi

script=$1
shift
case "$script" in
  *.ts | *.mts) exec "$node" --import tsx "$script" "$@" ;;
  *) exec "$node" "$script" "$@" ;;
esac
