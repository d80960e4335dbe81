#!/usr/bin/env python3
"""Makes the tokenizer golden data in tests/golden/tokenize/ from llama.cpp's llama-tokenize.

For every model given, every text of texts.jsonl is tokenized twice (parse_special on and off,
the model's own add_bos), and every chat case below is rendered with the model's jinja chat
template (from the GGUF, or --fallback-template when the GGUF has none) and tokenized with
parse_special on. Output: <out-dir>/<model>.jsonl and <out-dir>/<model>.chat.jsonl.

With --llama-cpp-dir, it also builds llama_token_pieces.cpp against that checkout and writes
<out-dir>/<model>.pieces.json: llama.cpp's piece of every token (with and without special
rendering) as an FNV-1a digest plus samples, and the ids that end generation.

Needs the tooling venv (gguf, jinja2). The exact command is recorded in tests/golden/README.md:
  ~/.cache/tlmbench/venv/bin/python scripts/golden/make_tokenizer_golden.py \
      --llama-tokenize /path/to/llama.cpp/build/bin/llama-tokenize \
      --model ~/.cache/tlmbench/models/gemma-3-270m-q4_k_m.gguf \
      --model ~/.cache/tlmbench/models/smollm2-135m-instruct-q4_1.gguf \
      --fallback-template gemma-3-270m-q4_k_m=/path/to/llama.cpp/models/templates/google-gemma-2-2b-it.jinja \
      --llama-cpp-dir /path/to/llama.cpp
"""
import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

# Chat cases: (name, messages, add_generation_prompt). Templates that refuse a case (Gemma's
# refuses the system role) simply have no golden for it; the C++ test covers those by hand.
CHAT_CASES = [
    ("user_only", [{"role": "user", "content": "Hello!"}], True),
    ("user_only_no_gen", [{"role": "user", "content": "Hello!"}], False),
    ("multi_turn", [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4."},
        {"role": "user", "content": "And 3+3?"},
    ], True),
    ("whitespace_content", [{"role": "user", "content": "  padded question \n"}], True),
    ("system_first", [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi"},
    ], True),
    ("unicode_content", [{"role": "user", "content": "Caf\u00e9 \U0001F355 \u4f60\u597d"}], True),
    ("empty_content", [{"role": "user", "content": ""}], True),
]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tokenize(llama_tokenize, model, text, parse_special, no_bos=False):
    cmd = [llama_tokenize, "-m", model, "--stdin", "--ids", "--log-disable", "--no-escape"]
    if not parse_special:
        cmd.append("--no-parse-special")
    if no_bos:
        cmd.append("--no-bos")
    out = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True, check=True)
    # The ids are printed as one Python-style list on the last line of stdout.
    last = out.stdout.decode().strip().splitlines()[-1]
    return json.loads(last)


def fnv1a64(chunks):
    h = 0xcbf29ce484222325
    for chunk in chunks:
        for b in chunk:
            h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def build_pieces_helper(llama_cpp_dir, out_dir):
    here = os.path.dirname(os.path.abspath(__file__))
    exe = os.path.join(out_dir, "llama_token_pieces")
    lib_dir = os.path.join(llama_cpp_dir, "build", "bin")
    subprocess.run(["g++", "-O2", "-std=c++17", os.path.join(here, "llama_token_pieces.cpp"),
                    "-I", os.path.join(llama_cpp_dir, "include"),
                    "-I", os.path.join(llama_cpp_dir, "ggml", "include"),
                    "-L", lib_dir, "-lllama", "-lggml", "-lggml-base",
                    "-Wl,-rpath," + lib_dir, "-o", exe], check=True)
    return exe


def pieces_golden(helper, model, meta):
    """Digest of every token's piece (each as u32 little-endian length + bytes), samples, EOG ids."""
    out = subprocess.run([helper, model], capture_output=True, check=True).stdout.decode()
    plain, special, eog, samples = [], [], [], []
    for line in out.splitlines():
        tid, is_eog, p_hex, s_hex = line.split()
        tid = int(tid)
        p = b"" if p_hex == "-" else bytes.fromhex(p_hex)
        s = b"" if s_hex == "-" else bytes.fromhex(s_hex)
        plain += [struct.pack("<I", len(p)), p]
        special += [struct.pack("<I", len(s)), s]
        if is_eog == "1":
            eog.append(tid)
        if tid < 400 or tid % 1009 == 0:
            samples.append([tid, p.hex(), s.hex()])
    return {"meta": meta, "n_tokens": len(out.splitlines()),
            "fnv1a64_plain": f"{fnv1a64(plain):016x}", "fnv1a64_special": f"{fnv1a64(special):016x}",
            "eog_ids": eog, "samples": samples}


def read_gguf_vocab_info(model):
    import gguf  # from the tooling venv
    reader = gguf.GGUFReader(model)

    def string(key):
        field = reader.fields.get(key)
        return None if field is None else bytes(field.parts[field.data[0]]).decode("utf-8")

    def scalar(key):
        field = reader.fields.get(key)
        return None if field is None else field.parts[field.data[0]].tolist()[0]

    tokens_field = reader.fields["tokenizer.ggml.tokens"]

    def token(i):
        return bytes(tokens_field.parts[tokens_field.data[i]]).decode("utf-8")

    bos, eos = scalar("tokenizer.ggml.bos_token_id"), scalar("tokenizer.ggml.eos_token_id")
    add_bos = scalar("tokenizer.ggml.add_bos_token")
    if add_bos is None:  # llama.cpp's default per tokenizer model
        add_bos = string("tokenizer.ggml.model") == "llama"
    return {
        "add_bos": bool(add_bos),
        "chat_template": string("tokenizer.chat_template"),
        "bos_token": token(bos) if bos is not None else "",
        "eos_token": token(eos) if eos is not None else "",
    }


def render(template_text, messages, add_generation_prompt, bos_token, eos_token):
    # The same environment Hugging Face's apply_chat_template uses.
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise ValueError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template_text).render(
        messages=messages, add_generation_prompt=add_generation_prompt,
        bos_token=bos_token, eos_token=eos_token)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llama-tokenize", required=True, help="path to llama.cpp's llama-tokenize")
    ap.add_argument("--model", action="append", required=True, help="a GGUF model (repeatable)")
    ap.add_argument("--texts", default=os.path.join(root, "tests/golden/tokenize/texts.jsonl"))
    ap.add_argument("--out-dir", default=os.path.join(root, "tests/golden/tokenize"))
    ap.add_argument("--fallback-template", action="append", default=[],
                    help="MODEL_NAME=PATH: jinja chat template for a GGUF that has none")
    ap.add_argument("--llama-cpp-commit", default="", help="recorded in the output's meta line")
    ap.add_argument("--llama-cpp-dir", default="",
                    help="llama.cpp checkout with build/bin: also write <model>.pieces.json")
    args = ap.parse_args()

    fallback = dict(item.split("=", 1) for item in args.fallback_template)
    with open(args.texts, encoding="utf-8") as f:
        texts = [json.loads(line) for line in f if line.strip()]

    helper_dir = tempfile.mkdtemp(prefix="tlm-golden-")
    helper = build_pieces_helper(args.llama_cpp_dir, helper_dir) if args.llama_cpp_dir else None

    for model in args.model:
        name = os.path.basename(model)
        if name.endswith(".gguf"):
            name = name[:-len(".gguf")]
        meta = {"meta": {"model": os.path.basename(model), "model_sha256": sha256_file(model),
                         "llama_cpp_commit": args.llama_cpp_commit,
                         "tool": "llama-tokenize --stdin --ids --log-disable --no-escape [--no-parse-special]"}}

        out_path = os.path.join(args.out_dir, name + ".jsonl")
        with open(out_path, "w", encoding="utf-8") as out:
            out.write(json.dumps(meta) + "\n")
            for t in texts:
                for parse_special in (True, False):
                    ids = tokenize(args.llama_tokenize, model, t["text"], parse_special)
                    out.write(json.dumps({"name": t["name"], "parse_special": parse_special,
                                          "add_bos": True, "ids": ids}) + "\n")
        print(f"wrote {out_path}", file=sys.stderr)

        if helper:
            pieces_path = os.path.join(args.out_dir, name + ".pieces.json")
            with open(pieces_path, "w", encoding="utf-8") as out:
                json.dump(pieces_golden(helper, model, meta["meta"]), out)
                out.write("\n")
            print(f"wrote {pieces_path}", file=sys.stderr)

        info = read_gguf_vocab_info(model)
        template = info["chat_template"]
        template_source = "gguf"
        if not template and name in fallback:
            with open(fallback[name], encoding="utf-8") as f:
                template = f.read()
            template_source = os.path.basename(fallback[name])
        if not template:
            print(f"{name}: no chat template, no chat golden", file=sys.stderr)
            continue
        chat_path = os.path.join(args.out_dir, name + ".chat.jsonl")
        with open(chat_path, "w", encoding="utf-8") as out:
            chat_meta = dict(meta["meta"], template_source=template_source, bos_token=info["bos_token"])
            out.write(json.dumps({"meta": chat_meta}) + "\n")
            for case_name, messages, add_gen in CHAT_CASES:
                try:
                    prompt = render(template, messages, add_gen, info["bos_token"], info["eos_token"])
                except ValueError as e:
                    print(f"{name}: template refuses {case_name}: {e}", file=sys.stderr)
                    continue
                # A template that writes the BOS text itself must not get a second one.
                starts_with_bos = (info["add_bos"] and bool(info["bos_token"])
                                   and prompt.startswith(info["bos_token"]))
                ids = tokenize(args.llama_tokenize, model, prompt, True, no_bos=starts_with_bos)
                out.write(json.dumps({"name": case_name, "messages": messages,
                                      "add_generation_prompt": add_gen, "prompt": prompt,
                                      "ids": ids}, ensure_ascii=False) + "\n")
        print(f"wrote {chat_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
