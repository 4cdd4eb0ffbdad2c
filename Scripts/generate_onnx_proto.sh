#!/usr/bin/env bash
# generate_onnx_proto.sh: regenerate Sources/ReluMIP/ModelReaders/ONNX/onnx.pb.swift from onnx.proto.
#
# The generated Swift file is committed, so building the package needs neither protoc nor the
# Swift plugin. Run this script only after editing onnx.proto (or when moving to another
# swift-protobuf version; the generator must match the SwiftProtobuf runtime the package links).
#
# What it does:
#   1. clones swift-protobuf at SWIFT_PROTOBUF_VERSION into a temporary directory (from the
#      local package cache by default) and builds protoc-gen-swift in release mode
#      (about 1.5 minutes on 2 cores; skipped if PROTOC_GEN_SWIFT names a built plugin);
#   2. runs protoc with the plugin, writing onnx.pb.swift next to onnx.proto. Options:
#        Visibility=Internal  the types are internal to the ReluMIP module (not public API);
#        FileNaming=DropPath  the output is named onnx.pb.swift whatever the proto path.
#      Types keep the usual package prefix: Onnx_ModelProto, Onnx_TensorProto, ...
#
# Usage (from anywhere):
#   Scripts/generate_onnx_proto.sh          regenerate onnx.pb.swift in place
#   Scripts/generate_onnx_proto.sh --check  generate into a temp dir and diff against the
#                                           committed file; exit 1 if they differ
#
# Environment (all optional):
#   SWIFT_PROTOBUF_VERSION  tag to build (default: the version pinned in Package.resolved if
#                           there is one, else 1.39.0)
#   SWIFT_PROTOBUF_GIT      repository to clone (default: /opt/swift-packages/apple/swift-protobuf.git
#                           if it exists, else https://github.com/apple/swift-protobuf.git)
#   PROTOC_GEN_SWIFT        path of an already built protoc-gen-swift (skips step 1; its
#                           --version must still match SWIFT_PROTOBUF_VERSION)
#   PROTOC                  protoc to use (default: protoc on PATH; 3.x or newer)
#   SWIFT                   swift to use (default: swift on PATH)
#   KEEP_TMP=1              keep the temporary directory (for inspecting the build)
set -euo pipefail

mode=generate
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
proto_dir="$root/Sources/ReluMIP/ModelReaders/ONNX"
proto_file="onnx.proto"
generated="$proto_dir/onnx.pb.swift"

PROTOC="${PROTOC:-protoc}"
SWIFT="${SWIFT:-swift}"
command -v "$PROTOC" >/dev/null || { echo "error: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }

# The version pinned in Package.resolved, if the package resolves swift-protobuf.
resolved_version() {
  local resolved="$root/Package.resolved"
  [[ -f "$resolved" ]] || return 0
  awk '/"identity"[[:space:]]*:[[:space:]]*"swift-protobuf"/ { found = 1 }
       found && /"version"/ { gsub(/.*"version"[[:space:]]*:[[:space:]]*"|".*/, ""); print; exit }' "$resolved"
}
version="${SWIFT_PROTOBUF_VERSION:-$(resolved_version)}"
version="${version:-1.39.0}"

if [[ -z "${SWIFT_PROTOBUF_GIT:-}" ]]; then
  if [[ -d /opt/swift-packages/apple/swift-protobuf.git ]]; then
    SWIFT_PROTOBUF_GIT=/opt/swift-packages/apple/swift-protobuf.git
  else
    SWIFT_PROTOBUF_GIT=https://github.com/apple/swift-protobuf.git
  fi
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/onnx-proto.XXXXXX")"
cleanup() { if [[ "${KEEP_TMP:-0}" == 1 ]]; then echo "kept $tmp"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT

plugin="${PROTOC_GEN_SWIFT:-}"
if [[ -z "$plugin" ]]; then
  echo "==> cloning swift-protobuf $version from $SWIFT_PROTOBUF_GIT"
  git clone --quiet --depth 1 --branch "$version" "$SWIFT_PROTOBUF_GIT" "$tmp/swift-protobuf" 2>/dev/null \
    || { git clone --quiet "$SWIFT_PROTOBUF_GIT" "$tmp/swift-protobuf" \
         && git -C "$tmp/swift-protobuf" checkout --quiet "$version"; }
  echo "==> building protoc-gen-swift (release; this takes a few minutes)"
  "$SWIFT" build -c release --product protoc-gen-swift \
    --package-path "$tmp/swift-protobuf" --scratch-path "$tmp/build"
  plugin="$tmp/build/release/protoc-gen-swift"
fi
[[ -x "$plugin" ]] || { echo "error: plugin not executable: $plugin" >&2; exit 1; }

plugin_version="$("$plugin" --version | awk '{ print $NF }')"
if [[ "$plugin_version" != "$version" ]]; then
  echo "error: $plugin is version $plugin_version, expected $version" >&2
  exit 1
fi

out="$tmp/out"
mkdir -p "$out"
echo "==> $("$PROTOC" --version), protoc-gen-swift $plugin_version: $proto_file"
"$PROTOC" \
  --plugin=protoc-gen-swift="$plugin" \
  --swift_opt=Visibility=Internal \
  --swift_opt=FileNaming=DropPath \
  --proto_path="$proto_dir" \
  --swift_out="$out" \
  "$proto_file"

# Generated code is not ours to format: tell `swift format lint` to skip the file.
{ echo "// swift-format-ignore-file"; cat "$out/onnx.pb.swift"; } > "$out/onnx.pb.swift.tmp"
mv "$out/onnx.pb.swift.tmp" "$out/onnx.pb.swift"

if [[ "$mode" == check ]]; then
  if diff -u "$generated" "$out/onnx.pb.swift"; then
    echo "onnx.pb.swift is up to date"
  else
    echo "error: onnx.pb.swift is stale; run $0" >&2
    exit 1
  fi
else
  cp "$out/onnx.pb.swift" "$generated"
  echo "==> wrote ${generated#"$root"/}"
fi
