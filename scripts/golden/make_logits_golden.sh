#!/usr/bin/env bash
# Regenerate tests/golden/logits/<model>.json (teacher-forced reference logits).
#
# Tokenization is done by llama.cpp's llama-tokenize (BOS added iff the model's
# GGUF says so, special tokens parsed); the forward pass is the independent
# numpy reference in scripts/golden/reference_forward.py.
#
# Usage: scripts/golden/make_logits_golden.sh [gemma|smollm2|all]
# Env:   LLAMA_CPP_BIN  (default /work/llama.cpp/build/bin)
#        MODELS_DIR     (default ~/.cache/tlmbench/models)
#        PY             (default ~/.cache/tlmbench/venv/bin/python)
#        LLAMACPP_CHECK_DIR  optional dir with llamacpp_check_<stem>.json to embed
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LLAMA_CPP_BIN="${LLAMA_CPP_BIN:-/work/llama.cpp/build/bin}"
MODELS_DIR="${MODELS_DIR:-$HOME/.cache/tlmbench/models}"
PY="${PY:-$HOME/.cache/tlmbench/venv/bin/python}"
PROMPTS="$ROOT/tests/golden/logits/prompts"
OUTDIR="$ROOT/tests/golden/logits"
WHICH="${1:-all}"

tokenize() {  # model file -> comma-separated ids
    "$LLAMA_CPP_BIN/llama-tokenize" -m "$1" -f "$2" --ids --log-disable --no-escape 2>/dev/null | tr -d '[] \n'
}

run_model() {  # tag stem
    local tag="$1" stem="$2"
    local model="$MODELS_DIR/$stem.gguf"
    local tmp; tmp="$(mktemp -d)"
    local entries=()
    for name in chat english code long; do
        local f="$PROMPTS/$name.txt"
        [[ "$name" == chat ]] && f="$PROMPTS/chat_$tag.txt"
        entries+=("$name" "$f" "$(tokenize "$model" "$f")")
    done
    "$PY" - "$tmp/tokens.json" "${entries[@]}" <<'EOF'
import json, sys
out, rest = sys.argv[1], sys.argv[2:]
items = []
for i in range(0, len(rest), 3):
    name, path, ids = rest[i:i + 3]
    items.append({"name": name, "text": open(path, encoding="utf-8").read(),
                  "ids": [int(x) for x in ids.split(",")]})
json.dump(items, open(out, "w"))
EOF
    local gids; gids="$(tokenize "$model" "$PROMPTS/greedy_$tag.txt")"
    local extra=()
    if [[ -n "${LLAMACPP_CHECK_DIR:-}" && -f "$LLAMACPP_CHECK_DIR/llamacpp_check_$stem.json" ]]; then
        extra=(--llamacpp-check "$LLAMACPP_CHECK_DIR/llamacpp_check_$stem.json")
    fi
    "$PY" "$ROOT/scripts/golden/reference_forward.py" golden \
        --model "$model" --tokens "$tmp/tokens.json" \
        --out "$OUTDIR/$stem.json" \
        --greedy-ids "$gids" --greedy-text-file "$PROMPTS/greedy_$tag.txt" --greedy-n 32 \
        --command "scripts/golden/make_logits_golden.sh $tag" "${extra[@]}"
    rm -rf "$tmp"
}

case "$WHICH" in
    gemma)   run_model gemma gemma-3-270m-q4_k_m ;;
    smollm2) run_model smollm2 smollm2-135m-instruct-q4_1 ;;
    all)     run_model gemma gemma-3-270m-q4_k_m
             run_model smollm2 smollm2-135m-instruct-q4_1 ;;
    *) echo "usage: $0 [gemma|smollm2|all]" >&2; exit 2 ;;
esac
