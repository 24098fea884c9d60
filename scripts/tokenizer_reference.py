#!/usr/bin/env python3
"""Reference ids for InstructKit's tokenizers from Hugging Face `tokenizers` (PyPI).

    pip install tokenizers
    python3 scripts/tokenizer_reference.py fixtures   # rewrite Tests/TokenizersTests/Fixtures/gpt2_reference.json
    python3 scripts/tokenizer_reference.py compare    # our `instruct tokenizer encode` vs HF on every text

`fixtures` writes HF's ids for our own edge-case texts (committed; the Swift tests compare
against them). `compare` runs the built `instruct` binary (.build/release/instruct, or
$INSTRUCT) on the edge cases plus every text in ../shared/datasets/instruct (not committed)
and 20,000 seeded random Unicode strings,
once with the GPT-2 vocab.json + merges.txt and once with the tokenizer.json HF saves from
them, and checks that tokenizer.json files written by us (`instruct tokenizer convert` of GPT-2,
and one trained by `instruct tokenizer train`) load in HF and give the same ids as ours; then the
same for every tokenizer.json of scripts/make_tokenizer_fixtures.py and SmolLM2's (rebuilt from
models/SmolLM2-135M-Instruct.Q4_1.gguf when present; needs the gguf package). Exit status 1 on any
mismatch.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "datasets")
GPT2 = os.path.join(SHARED, "tokenizers", "gpt2")
FIXTURE = os.path.join(ROOT, "Tests", "TokenizersTests", "Fixtures", "gpt2_reference.json")


def hf_gpt2(with_special=True):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    tok = Tokenizer(models.BPE.from_file(os.path.join(GPT2, "vocab.json"), os.path.join(GPT2, "merges.txt")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    if with_special:
        tok.add_special_tokens([AddedToken("<|endoftext|>", special=True)])
    return tok


def edge_cases():
    """Hand-written edge cases, then seeded random mixes of tricky fragments."""
    texts = [
        "Hello world", "Hello, world!", " Hello world", "Hello  world", "Hello   world", "Hello world ",
        "Hello world  ", "", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n", "\n ", "a\n\nb", "a \n b",
        "a\t\tb", "\ta", "  a", "a  ", "tab\there", "line1\nline2\r\nline3", "trailing\n", "   leading",
        "don't", "DON'T", "I'm", "I'M", "we're", "WE'RE", "they've", "you'll", "he'd", "it's", "IT'S", "John's",
        "JOHN'S", "'s", "'S", "''s", "x's'", "rock 'n' roll", "O'Neil's", "'tis", "'ll've'd", "can't've",
        "12345", "3.14159", "1,000,000", "123abc456", "abc123", "x2", " 42", "2024-01-01", "10%", "$100.00",
        "0x1F600", "١٢٣", "½ ¾ ²", "Ⅻ", "𝟘𝟙𝟚",
        "😀", "😀😀", " 😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷🇩🇪", "a😀b", "❤️", "✔︎",
        "日本語のテキスト", "中文文本，标点。", "한국어 텍스트", "ｆｕｌｌｗｉｄｔｈ", "日本 語", "「引用」",
        "e\u0301", "cafe\u0301", "café", "Zalgo: Z\u0351\u0352\u0353a\u0354l\u0355g\u0356o", "ñ vs n\u0303",
        "مرحبا بالعالم", "שלום עולם", "عربي 123 English", "\u200fRTL mark\u200f", "\u202eoverride",
        "Привет, мир!", "Ελληνικά", "हिन्दी", "ภาษาไทย", "ქართული",
        "\x00", "a\x00b", "\x01\x02\x03", "\x1b[31mred\x1b[0m", "\x7f", "\x1c\x1d\x1e\x1f", "\x0b\x0c",
        "\u00a0", "a\u00a0b", "a \u00a0b", "\u3000", "a\u3000b", "\u2028", "\u2029", "\u0085", "\u200b", "\ufeffBOM",
        "a\u2003\u2003b", "\u180e", "\u1680x",
        "<|endoftext|>", "Hello<|endoftext|>world", "<|endoftext|><|endoftext|>", " <|endoftext|> ",
        "<|endoftext|", "<|endoftext|>>", "<<|endoftext|>", "text <|endoftext|>\nmore",
        "<|im_start|>user\nHi<|im_end|>",
        "https://example.com/path?q=1&r=2#frag", "user@example.com", "C:\\Windows\\System32",
        "def f(x):\n    return x ** 2\n", "if (a && b) { return; }", "    indented\n        more",
        "#include <stdio.h>", "SELECT * FROM t WHERE a='b';", "{\"json\": [1, 2, 3]}", "~!@#$%^&*()_+",
        "...", "!!!", "?!", "--", "—", "“quotes”", "‘single’", "«guillemets»", "…", "•", "→", "©®™",
        "ＡＢＣ", "ℕℤℚ", "µ", "ß", "ẞ", "ﬁ", "İstanbul", "ǅ", "Ǆ",
        "A" * 100, " " * 50, "ab" * 60, "😀" * 20, "\n" * 10, "a" + " " * 20 + "b", "9" * 40,
        "Supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis",
    ]
    fragments = [
        " ", "  ", "\t", "\n", "\r\n", "\n\n", "'s", "'S", "'t", "'re", "'ve", "'m", "'ll", "'d", "'", "\"",
        "hello", "World", "the", " the", "GPT", "x", "123", " 45", "6", "3.5", "😀", "👨‍👩‍👧", "🇯🇵", "日本",
        "中文", "한", "é", "e\u0301", "\u0301", "مرحبا", "שלום", "Ω", "ß", "\x00", "\x07", "\x1b", "\u00a0",
        "\u3000", "\u2028", "\u200d", "\ufe0f", "-", "...", ",", ".", "!", "?", "(", ")", "<|endoftext|>",
        "<|", "|>", "endoftext", "$", "%", "#", "@", "_", "__init__", "don't", "I'M", "€", "½", "²", "١",
    ]
    rng = random.Random(20261127)
    for _ in range(600):
        n = rng.randint(1, 12)
        texts.append("".join(rng.choice(fragments) for _ in range(n)))
    seen, unique = set(), []
    for t in texts:
        if t not in seen:
            seen.add(t)
            unique.append(t)
    return unique


def random_unicode_texts(count=20000):
    """Seeded random strings over all planes (ASCII, Unicode spaces and controls, BMP, astral,
    unassigned and private-use code points; no surrogates): stress for the character classes."""
    rng = random.Random(7)
    spaces = [9, 10, 11, 12, 13, 0x85, 0xA0, 0x1680, 0x2000, 0x2005, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F,
              0x3000, 0x1C, 0x1D, 0x1E, 0x1F, 0x180E, 0x200B, 0xFEFF]
    def code_point():
        r = rng.random()
        if r < 0.3:
            return rng.randint(0x20, 0x7E)
        if r < 0.4:
            return rng.choice(spaces)
        if r < 0.7:
            return rng.randint(0xA0, 0x2FFF)
        if r < 0.85:
            return rng.randint(0x3000, 0xFFFF)
        return rng.randint(0x10000, 0x10FFFF)
    texts = []
    for _ in range(count):
        cps = [code_point() for _ in range(rng.randint(1, 12))]
        texts.append("".join(chr(0x41 if 0xD800 <= c <= 0xDFFF else c) for c in cps))
    return texts


def shared_texts():
    texts = []
    inst = os.path.join(SHARED, "instruct")
    for name in ["dolly-151.jsonl", "dolly-12.original.jsonl"]:
        with open(os.path.join(inst, name), encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                texts += [rec[k] for k in ("instruction", "context", "response") if rec.get(k)]
    with open(os.path.join(inst, "oasst-en-564.messages.jsonl"), encoding="utf-8") as f:
        for line in f:
            texts += [m["content"] for m in json.loads(line)["messages"]]
    seen, unique = set(), []
    for t in texts:
        if t not in seen:
            seen.add(t)
            unique.append(t)
    return unique


def cmd_fixtures():
    tok, plain = hf_gpt2(True), hf_gpt2(False)
    cases = []
    for t in edge_cases():
        cases.append({"text": t, "ids": tok.encode(t).ids, "ids_no_special": plain.encode(t).ids})
    fixture = {
        "source": "scripts/tokenizer_reference.py fixtures; HF tokenizers %s; GPT-2 vocab.json + merges.txt "
                  "with <|endoftext|> as a special token" % __import__("tokenizers").__version__,
        "cases": cases,
    }
    with open(FIXTURE, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=True, indent=0)
        f.write("\n")
    print("wrote %d cases to %s" % (len(cases), FIXTURE))


def run_ours(binary, tokenizer_path, texts, extra=()):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps(t) + "\n")
        name = f.name
    try:
        out = subprocess.run([binary, "tokenizer", "encode", "--tokenizer", tokenizer_path, "--json", "--file", name,
                              *extra], check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(name)
    lines = out.split("\n")[: len(texts)]
    return [[int(x) for x in line.split()] for line in lines]


def compare(label, hf, ours_ids, texts, round_trip=True):
    bad = 0
    for i, (t, mine) in enumerate(zip(texts, ours_ids)):
        theirs = hf.encode(t, add_special_tokens=False).ids  # `instruct` never adds BOS/EOS
        if mine != theirs:
            bad += 1
            if bad <= 5:
                print("  MISMATCH %s #%d %r\n    hf   %s\n    ours %s" % (label, i, t[:80], theirs[:40], mine[:40]))
        if round_trip and hf.decode(theirs, skip_special_tokens=False) != t:
            print("  note: HF itself does not round-trip %r" % t[:60])
    print("%-42s %5d texts, %d mismatches" % (label, len(texts), bad))
    return bad


def cmd_compare():
    binary = os.environ.get("INSTRUCT", os.path.join(ROOT, ".build", "release", "instruct"))
    if not os.path.exists(GPT2):
        print("shared data not found at %s; nothing to compare" % GPT2)
        return 0
    own, shared = edge_cases(), shared_texts()
    texts = own + shared
    hf = hf_gpt2(True)
    bad = 0
    bad += compare("GPT-2 vocab.json+merges.txt, own cases", hf, run_ours(binary, GPT2, own), own)
    bad += compare("GPT-2 vocab.json+merges.txt, shared texts", hf, run_ours(binary, GPT2, shared), shared)
    fuzz = random_unicode_texts()
    bad += compare("GPT-2, seeded random Unicode strings", hf, run_ours(binary, GPT2, fuzz), fuzz)
    with tempfile.TemporaryDirectory() as d:
        saved = os.path.join(d, "tokenizer.json")
        hf.save(saved)
        bad += compare("GPT-2 tokenizer.json saved by HF, all", hf, run_ours(binary, saved, texts), texts)
        # GPT-2 written as tokenizer.json by us, loaded in HF.
        ours_json = os.path.join(d, "ours-gpt2.json")
        subprocess.run([binary, "tokenizer", "convert", "--tokenizer", GPT2, "--out", ours_json], check=True,
                       capture_output=True)
        from tokenizers import Tokenizer
        bad += compare("GPT-2 tokenizer.json saved by us, in HF", Tokenizer.from_file(ours_json),
                       run_ours(binary, GPT2, texts), texts)
        # Train with our CLI, load the result in HF, compare.
        corpus = os.path.join(d, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.write("\n".join(shared))
        trained = os.path.join(d, "trained.json")
        subprocess.run([binary, "tokenizer", "train", "--data", corpus, "--vocab-size", "1500", "--special-tokens",
                        "<|endoftext|>", "<|im_start|>", "<|im_end|>", "--out", trained], check=True,
                       capture_output=True)
        hf_trained = Tokenizer.from_file(trained)
        bad += compare("our trained tokenizer.json loaded by HF", hf_trained, run_ours(binary, trained, texts), texts)
        # Added tokens with lstrip / rstrip.
        with open(trained, encoding="utf-8") as f:
            spec = json.load(f)
        spec["added_tokens"][0].update(lstrip=True, rstrip=True)
        spec["added_tokens"][1]["lstrip"] = True
        spec["added_tokens"][2]["rstrip"] = True
        flagged = os.path.join(d, "flagged.json")
        with open(flagged, "w", encoding="utf-8") as f:
            json.dump(spec, f, ensure_ascii=False)
        strip_texts = [a + tok + b for tok in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
                       for a in ["", "x", "x ", "x \t\n", "x\u3000", "\u00a0"] for b in ["", "y", " y", " \n y", "\u2003"]]
        bad += compare("lstrip/rstrip added tokens", Tokenizer.from_file(flagged),
                       run_ours(binary, flagged, strip_texts), strip_texts,
                       round_trip=False)  # stripping drops whitespace by design
    # The pipeline fixtures (scripts/make_tokenizer_fixtures.py) and SmolLM2's tokenizer from its GGUF:
    # every text and the 20,000 random strings, through the CLI, against HF loading the same file.
    bad += compare_pipelines(binary, texts, fuzz)
    print("total: %d texts per tokenizer (%d own + %d shared) and %d random strings, %d mismatches"
          % (len(texts), len(own), len(shared), len(fuzz), bad))
    return 1 if bad else 0


def compare_pipelines(binary, texts, fuzz):
    from tokenizers import Tokenizer
    import glob
    fixtures = os.path.join(ROOT, "Tests", "TokenizersTests", "Fixtures")
    paths = sorted(glob.glob(os.path.join(fixtures, "*.tokenizer.json")))
    bad = 0
    with tempfile.TemporaryDirectory() as d:
        try:
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            import make_tokenizer_fixtures as m
            if os.path.exists(m.GGUF):
                smol = os.path.join(d, "smollm2.tokenizer.json")
                with open(smol, "w", encoding="utf-8") as f:
                    f.write(smollm2_json(m))
                paths.append(smol)
        except ImportError as e:  # gguf not installed: the fixtures alone
            print("  (no SmolLM2 comparison: %s)" % e)
        for path in paths:
            name = os.path.basename(path).replace(".tokenizer.json", "")
            hf = Tokenizer.from_file(path)
            bad += compare("%s, all texts" % name, hf, run_ours(binary, path, texts), texts, round_trip=False)
            bad += compare("%s, random strings" % name, hf, run_ours(binary, path, fuzz), fuzz, round_trip=False)
    return bad


def smollm2_json(m):
    """SmolLM2's tokenizer.json with its original pre-tokenizer, from the GGUF arrays."""
    from gguf import GGUFReader
    r = GGUFReader(m.GGUF)
    tokens = m.gguf_value(r, "tokenizer.ggml.tokens")
    types = m.gguf_value(r, "tokenizer.ggml.token_type")
    merges = m.gguf_value(r, "tokenizer.ggml.merges")
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    spec = {"version": "1.0", "added_tokens": [
                {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
                 "special": True} for i, (t, ty) in enumerate(zip(tokens, types)) if ty == 3],
            "normalizer": None,
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, byte_level]},
            "post_processor": None, "decoder": byte_level,
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "fuse_unk": False, "byte_fallback": False,
                      "ignore_merges": False, "vocab": {t: i for i, t in enumerate(tokens)},
                      "merges": [x.split(" ") for x in merges]}}
    return json.dumps(spec, ensure_ascii=False)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "compare"
    if what == "fixtures":
        cmd_fixtures()
    elif what == "compare":
        sys.exit(cmd_compare())
    else:
        sys.exit(__doc__)
