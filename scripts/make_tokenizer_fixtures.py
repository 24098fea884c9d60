#!/usr/bin/env python3
"""Reference fixtures for the tokenizer.json pipeline tests (Tests/TokenizersTests/Fixtures).

Every expected id and decoded text comes from Hugging Face `tokenizers` (the Rust library, via
its Python package); the Swift tests must reproduce them exactly. Run with the reference venv
(scripts/reference-venv.sh):

    .venv/bin/python scripts/make_tokenizer_fixtures.py

Writes, into Tests/TokenizersTests/Fixtures/:
  pipeline_texts.json            the texts: own edge cases and seeded random Unicode strings, then
                                 where ~1000 lines of ../shared/datasets/instruct are (file, record,
                                 field, line; the shared texts themselves are not committed)
  NAME.tokenizer.json            small tokenizers (license-clean: trained here on the Apache-2.0
                                 OpenAssistant texts of ../shared, or converted from llama2.c's MIT
                                 stories260K tok512.bin)
  NAME.expected.json             per text: HF ids with add_special_tokens=False; where they differ,
                                 the ids with encode_special_tokens=True (our allowSpecial: false),
                                 decode(ids, skip_special_tokens=False) and (=True)
  smollm2.expected.json          the same for SmolLM2-135M-Instruct's tokenizer rebuilt from the
                                 GGUF's tokenizer.ggml.* arrays with its original pre-tokenizer
                                 (Digits + ByteLevel), and its ChatML prompt ids; only when
                                 models/SmolLM2-135M-Instruct.Q4_1.gguf is present (the arrays
                                 themselves are ~2 MB and are not committed)

The tokenizers:
  llama2-stories260k  tok512.bin as Llama 2's tokenizer.json layout (Prepend+Replace normalizer,
                      BPE with byte_fallback, fuse_unk, merges from the scores by transformers'
                      generate_merges; decoders Replace/ByteFallback/Fuse/Strip; BOS post-processor)
  llama3-style        Llama 3's Split regex + ByteLevel(use_regex=false), ignore_merges, BOS template
  qwen2-style         NFC, Qwen2's Split regex + ByteLevel(use_regex=false), ChatML specials
  metaspace-style     Mistral-like: Metaspace(prepend_scheme=first, split=true), byte_fallback,
                      a small alphabet so many characters fall back to bytes
  whitespace-style    Whitespace pre-tokenizer, [UNK] without fuse_unk, no decoder
  normalized-style    NFKC, Lowercase, Strip, Replace(regex); Punctuation, Digits(contiguous),
                      ByteLevel(add_prefix_space); normalized and lstrip/rstrip added tokens
  splits-style        Split with every behavior, invert, string and regex patterns, WhitespaceSplit
"""
import json
import os
import random
import struct
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "datasets")
OUT = os.path.join(ROOT, "Tests", "TokenizersTests", "Fixtures")
GGUF = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
if not os.path.exists(GGUF):
    GGUF = os.path.join(os.path.dirname(ROOT), "main", "models", "SmolLM2-135M-Instruct.Q4_1.gguf")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenizer_reference import edge_cases, random_unicode_texts  # noqa: E402

LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def shared_records():
    """(file, record index, field, text) for every text of ../shared/datasets/instruct, in file order."""
    out = []
    inst = os.path.join(SHARED, "instruct")
    for name in sorted(os.listdir(inst)):
        with open(os.path.join(inst, name), encoding="utf-8") as f:
            for index, line in enumerate(f):
                rec = json.loads(line)
                out += [(name, index, k, rec[k]) for k in ("instruction", "context", "response") if rec.get(k)]
                out += [(name, index, "messages.%d" % i, m["content"]) for i, m in enumerate(rec.get("messages", []))]
    return out


def cut(line):
    """A line cut to at most 160 characters, at its last space when cut (the Swift tests do the same)."""
    if len(line) > 160:
        line = line[:160]
        if " " in line:
            line = line[: line.rindex(" ")]
    return line


def snippets(records, count):
    """Lines of the shared texts (cut), distinct, every k-th in file order, as locators and texts.

    The shared texts are not ours to commit (Dolly is CC BY-SA): the fixture holds only where each
    snippet is (file, record, field, line) and the tests read it from ../shared at test time."""
    found, seen = [], set()
    for name, index, field, text in records:
        for part, line in enumerate(text.split("\n")):
            line = cut(line)
            if line.strip() and line not in seen:
                seen.add(line)
                found.append(({"file": name, "record": index, "field": field, "line": part, "length": len(line)}, line))
    step = max(1, len(found) // count)
    return found[::step][:count]


def own_cases():
    cases = [
        "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>",
        "<s>[INST] What is 2+2? [/INST] 4</s>", "<s> hello</s>", "a<s>b", "<unk>", " <s> ", "[UNK] x [UNK]",
        "hello world", "Hello World", "HELLO   WORLD", "  leading", "trailing  ", "  both  ", "\u2581already", "a\u2581b",
        " ", "  ", "\n", "\r\n\r\n", "\n \n", "\t\tx", "x\n\n\ny", " \n\n x", "a \r\n b",
        "1", "12", "123", "1234", "1234567", "x 1", "a  1", "3.14159", "1,000", "٣٤٥", "x²", "½", "①②", "Ⅻ",
        "I'M", "I'm", "THEY'LL", "he'S", "'ſ", "ﬁ", "ﬃ", "ｈｅｌｌｏ", "ΣΑΣ", "İstanbul", "ß", "ẞ", "Å", "A\u030a",
        "e\u0301", "\u1100\u1161\u11a8", "한국어", "日本語", "😀👍🏽", "👨‍👩‍👧", "\u200b", "\u00a0x", "x\u3000y",
        "hello-world", "a--b", "x, y, z", "c++ and c#", "foo_bar baz", "(parenthesis)", "\"quoted\"", "end.",
        "e-mail: user@example.com", "path/to/file.txt", "don't stop-me now, 42 times!", "café ÉCOLE",
        "hello world hello world", " hello world", "hello  world",
    ]
    return cases


def texts():
    """Own texts (committed), then shared snippets (only their locators committed)."""
    own = own_cases() + edge_cases() + random_unicode_texts(300)
    seen, out = set(), []
    for t in own:
        if t not in seen:
            seen.add(t)
            out.append(t)
    shared = [(loc, t) for loc, t in snippets(shared_records(), 1000) if t not in seen]
    return out, shared


def corpus():
    """Training text for the small vocabularies: the Apache-2.0 OpenAssistant conversations only
    (the committed vocabularies then derive from Apache-licensed text)."""
    return [t for name, _, _, t in shared_records() if name.startswith("oasst")]


def train_byte_level(pre, specials, normalizer=None, vocab_size=2000):
    tok = Tokenizer(models.BPE())
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    return tok


def with_model(tok, **fields):
    spec = json.loads(tok.to_str())
    spec["model"].update(fields)
    return spec


def bos_template(bos, bos_id):
    return {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}}}


def llama3_style():
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated", invert=False),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok = train_byte_level(pre, specials)
    spec = with_model(tok, ignore_merges=True)
    spec["post_processor"] = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        bos_template("<|begin_of_text|>", 0)]}
    return spec


def qwen2_style():
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2), behavior="isolated", invert=False),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok = train_byte_level(pre, specials, normalizer=normalizers.NFC())
    return json.loads(tok.to_str())


def normalized_style():
    norm = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(), normalizers.Strip(left=True, right=True),
                                 normalizers.Replace(Regex(r"\s+"), " ")])
    pre = pre_tokenizers.Sequence([pre_tokenizers.Punctuation(behavior="isolated"),
                                   pre_tokenizers.Digits(individual_digits=False),
                                   pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)])
    tok = train_byte_level(pre, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], normalizer=norm, vocab_size=1500)
    tok.add_tokens([AddedToken("Hello World", normalized=True), AddedToken("c++", normalized=False, lstrip=True, rstrip=True)])
    spec = json.loads(tok.to_str())
    for t in spec["added_tokens"]:
        if t["content"] == "<|im_end|>":
            t["rstrip"] = True
    return spec


def splits_style():
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Split(",", behavior="merged_with_previous"),
        pre_tokenizers.Split(Regex(r"[0-9]+"), behavior="merged_with_next"),
        pre_tokenizers.Split("-", behavior="contiguous"),
        pre_tokenizers.Split(Regex(r"[aeiou]{2,}"), behavior="isolated", invert=True),
        pre_tokenizers.Split(Regex(r"\."), behavior="removed"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok = train_byte_level(pre, ["<|endoftext|>"], vocab_size=1500)
    return json.loads(tok.to_str())


def char_level(pre, specials, unk, limit_alphabet, vocab_size):
    tok = Tokenizer(models.BPE(unk_token=unk))
    tok.pre_tokenizer = pre
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  limit_alphabet=limit_alphabet)
    tok.train_from_iterator(corpus(), trainer)
    return json.loads(tok.to_str())


def metaspace_style():
    pre = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=True)
    spec = char_level(pre, ["<unk>", "<s>", "</s>"], "<unk>", 70, 1200)
    # Llama/Mistral layout: <unk> <s> </s>, the 256 byte-fallback tokens, then the learned ones.
    learned = sorted(spec["model"]["vocab"].items(), key=lambda kv: kv[1])
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for token, _ in learned:
        if token not in vocab:
            vocab[token] = len(vocab)
    spec["model"].update(vocab=vocab, byte_fallback=True, fuse_unk=True, unk_token="<unk>")
    for t in spec["added_tokens"]:
        t["id"] = vocab[t["content"]]
    spec["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True},
        {"type": "ByteFallback"}, {"type": "Fuse"}]}
    spec["post_processor"] = bos_template("<s>", 1)
    return spec


def whitespace_style():
    spec = char_level(pre_tokenizers.Whitespace(), ["[UNK]", "<|endoftext|>"], "[UNK]", 60, 800)
    spec["decoder"] = None
    return spec


def llama2_stories260k():
    """tok512.bin (llama2.c, MIT) as the tokenizer.json transformers writes for Llama 2."""
    from transformers.tokenization_utils_base import generate_merges
    path = os.path.join(SHARED, "models", "stories260K", "tok512.bin")
    data = open(path, "rb").read()
    offset = 4
    tokens, scores = [], []
    while offset < len(data):
        score, length = struct.unpack_from("<fi", data, offset)
        offset += 8
        tokens.append(data[offset:offset + length].decode("utf-8"))
        scores.append(score)
        offset += length
    tokens[1], tokens[2] = "<s>", "</s>"
    tokens = [t if i < 3 or 3 <= i < 259 else t.replace(" ", "\u2581") for i, t in enumerate(tokens)]
    vocab = {t: i for i, t in enumerate(tokens)}
    merges = generate_merges(vocab, dict(zip(tokens, scores)))
    spec = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, t in enumerate(tokens[:3])],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                           {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": bos_template("<s>", 1),
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"},
            {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": [list(m) for m in merges]},
    }
    return spec


def expected(tok, all_texts, name):
    plain = Tokenizer.from_str(tok.to_str())
    plain.encode_special_tokens = True
    ids, no_special, decoded, decoded_skip = [], {}, {}, {}
    for i, t in enumerate(all_texts):
        e = tok.encode(t, add_special_tokens=False).ids
        ids.append(e)
        p = plain.encode(t, add_special_tokens=False).ids
        if p != e:
            no_special[str(i)] = p
        d = tok.decode(e, skip_special_tokens=False)
        if d != t:
            decoded[str(i)] = d
        s = tok.decode(e, skip_special_tokens=True)
        if s != d:
            decoded_skip[str(i)] = s
    import tokenizers
    return {"source": "scripts/make_tokenizer_fixtures.py; HF tokenizers %s; tokenizer %s" % (tokenizers.__version__, name),
            "with_bos": tok.encode("Hello", add_special_tokens=True).ids,
            "ids": ids, "ids_no_special": no_special, "decoded": decoded, "decoded_skip": decoded_skip}


def write(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print("%-40s %8d bytes" % (name, os.path.getsize(path)))


def gguf_value(reader, key):
    f = reader.fields.get(key)
    if f is None:
        return None
    if len(f.types) > 1:  # array
        if f.types[1].name == "STRING":
            return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
        return [f.parts[i][0].item() for i in f.data]
    if f.types[0].name == "STRING":
        return bytes(f.parts[f.data[0]]).decode("utf-8")
    return f.parts[f.data[0]][0].item()


def smollm2(all_texts):
    """SmolLM2's tokenizer from the GGUF arrays, with its original pre-tokenizer."""
    from gguf import GGUFReader
    import jinja2
    r = GGUFReader(GGUF)
    tokens = gguf_value(r, "tokenizer.ggml.tokens")
    types = gguf_value(r, "tokenizer.ggml.token_type")
    merges = gguf_value(r, "tokenizer.ggml.merges")
    spec = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, (t, ty) in enumerate(zip(tokens, types)) if ty == 3],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {t: i for i, t in enumerate(tokens)}, "merges": [m.split(" ") for m in merges]},
    }
    tok = Tokenizer.from_str(json.dumps(spec))
    out = expected(tok, all_texts, "SmolLM2-135M-Instruct (GGUF arrays, Digits + ByteLevel)")
    template = gguf_value(r, "tokenizer.chat_template")
    prompt = jinja2.Template(template).render(messages=[{"role": "user", "content": "What is the capital of France?"}],
                                              add_generation_prompt=True)
    out["chat_prompt"] = prompt
    out["chat_prompt_ids"] = tok.encode(prompt, add_special_tokens=False).ids
    try:  # transformers' own rendering and encoding, for the record (its GGUF tokenizer splits digits differently)
        from transformers import AutoTokenizer
        hf = AutoTokenizer.from_pretrained(os.path.dirname(GGUF), gguf_file=os.path.basename(GGUF))
        out["chat_prompt_ids_transformers"] = list(hf.apply_chat_template(
            [{"role": "user", "content": "What is the capital of France?"}], add_generation_prompt=True, tokenize=True,
            return_dict=False))
    except Exception as e:  # noqa: BLE001 - recorded, not fatal
        out["chat_prompt_ids_transformers_error"] = str(e)[:200]
    out["metadata"] = {k: gguf_value(r, "tokenizer.ggml." + k) for k in
                       ["model", "pre", "bos_token_id", "eos_token_id", "unknown_token_id", "padding_token_id",
                        "add_bos_token", "add_space_prefix"]}
    return out


def main():
    own, shared = texts()
    all_texts = own + [t for _, t in shared]
    write("pipeline_texts.json", {"source": "scripts/make_tokenizer_fixtures.py: own edge cases and seeded random "
                                            "strings in 'texts'; 'shared' locates lines of ../shared/datasets/instruct "
                                            "(record = 0-based line of the file, field, line = 0-based line of the "
                                            "text split at \\n, cut to 160 characters at its last space)",
                                  "texts": own, "shared": [loc for loc, _ in shared]})
    builders = [("llama2-stories260k", llama2_stories260k), ("llama3-style", llama3_style), ("qwen2-style", qwen2_style),
                ("metaspace-style", metaspace_style), ("whitespace-style", whitespace_style),
                ("normalized-style", normalized_style), ("splits-style", splits_style)]
    for name, build in builders:
        spec = build()
        text = json.dumps(spec, ensure_ascii=False, separators=(",", ":"))
        tok = Tokenizer.from_str(text)
        with open(os.path.join(OUT, name + ".tokenizer.json"), "w", encoding="utf-8") as f:
            f.write(text + "\n")
        print("%-40s %8d bytes" % (name + ".tokenizer.json", len(text.encode())))
        write(name + ".expected.json", expected(tok, all_texts, name))
    if os.path.exists(GGUF):
        write("smollm2.expected.json", smollm2(all_texts))
    else:
        print("no %s: smollm2.expected.json not written (scripts/fetch-smollm2.sh fetches it)" % GGUF)


if __name__ == "__main__":
    main()
