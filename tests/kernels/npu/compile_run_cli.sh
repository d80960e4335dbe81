#!/bin/sh
# `tlmbench compile` then `tlmbench run --backend npu --artifact` on a synthetic model, and a refusal.
# Usage: compile_run_cli.sh TLMBENCH PLUGIN_DIR WORK_DIR. Exit 77 (skip) where the plugins were not built
# (the ASan run of scripts/test builds tlmbench without them).
set -eu
tlmbench=$1 plugins=$2 work=$3
[ -f "$plugins/tlm_npu_vnpu.so" ] || exit 77
rm -rf "$work" && mkdir -p "$work/store"
"$tlmbench" make-model --arch gemma3 --type q8_0 -o "$work/model.gguf" >/dev/null
"$tlmbench" compile --plugin vnpu --soc vnpu-small --plugin-dir "$plugins" -m "$work/model.gguf" -o "$work/store" \
  >"$work/compile.txt" 2>"$work/compile.err"
cat "$work/compile.txt"
grep -q '^\[compile\] 15/15 ' "$work/compile.err" || { echo "no progress on stderr"; exit 1; }
artifact=$(sed -n 's/^artifact  *//p' "$work/compile.txt")
sha=$(sed -n 's/^artifact_sha256 //p' "$work/compile.txt")
[ "$(basename "$artifact")" = "$sha.tlmnpu" ] || { echo "artifact $artifact is not named by its sha256 $sha"; exit 1; }
[ "$(sha256sum "$artifact" | cut -d' ' -f1)" = "$sha" ] || { echo "sha256 of $artifact differs"; exit 1; }
grep -q '^ops_taken       15 of 15 matmuls' "$work/compile.txt"
grep -q '^compile_ms ' "$work/compile.txt"
grep -q '^artifact_bytes ' "$work/compile.txt"
"$tlmbench" run -m "$work/model.gguf" --backend npu --plugin vnpu --plugin-dir "$plugins" --artifact "$artifact" \
  -p 8 -n 4 -r 1 --warmup 0 -t 1 -q >"$work/run.txt"
cat "$work/run.txt"
grep -q "backend npu on npu (vnpu 1.0.0 on vnpu-small, artifact ${sha%"${sha#????????????}"}" "$work/run.txt"
grep -q "15 on the NPU, 0 on the CPU" "$work/run.txt"
set +e
"$tlmbench" run -m "$work/model.gguf" --backend npu --plugin-dir "$plugins" --artifact "$artifact" --soc vnpu-large \
  -p 8 -n 4 -r 1 -q >/dev/null 2>"$work/refused.err"
rc=$?
set -e
cat "$work/refused.err"
[ $rc -eq 2 ] || { echo "expected exit 2 for a mismatched SoC, got $rc"; exit 1; }
grep -q "artifact was compiled for SoC 'vnpu-small' but the SoC is 'vnpu-large'" "$work/refused.err"
echo "npu compile/run CLI: ok"
