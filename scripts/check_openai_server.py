#!/usr/bin/env python3
"""Checks `instruct serve` with the official `openai` Python client (PyPI `openai`).

Starts `instruct serve CKPT` on a free loopback port, then through `openai.OpenAI`:
a chat completion, a streamed one (its chunks concatenate to the non-streamed text of the
same seed), a stop string, 8 concurrent clients each getting the answer its prompt gets
alone, a legacy completion, the model list, and bad requests (malformed JSON, an unknown
model, max_tokens over the context, a 10 MB body) answered with OpenAI-style errors and the
right status while the server stays up; then the same server with --api-key (a wrong key is
refused, the right one answers); finally Ctrl-C (SIGINT), which must exit 0.

    python3 scripts/check_openai_server.py CKPT [--instruct .build/release/instruct]
        [--prompt "What is the capital of France?"] [--max-tokens 24]

Needs `pip install openai`; raw requests (a malformed body, /health) use the standard
library. Run by hand: tests never need Python (the same checks over raw HTTP are in
Tests/ServingTests).
"""
import argparse
import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import openai

RESULTS = []


def check(name, ok, detail=""):
    RESULTS.append((name, ok))
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f": {detail}" if detail else ""), flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(instruct, ckpt, model_id, extra=()):
    port = free_port()
    proc = subprocess.Popen([instruct, "serve", ckpt, "--port", str(port), "--model-id", model_id, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"instruct serve exited with {proc.returncode}: {proc.stderr.read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    sys.exit("instruct serve did not answer /health within 120 s")


def stop(proc, name):
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    check(f"{name}: Ctrl-C exits 0", proc.returncode == 0, f"status {proc.returncode}; last stdout line: {out.strip().splitlines()[-1:]}")
    return err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--instruct", default=".build/release/instruct")
    ap.add_argument("--model-id", default="model")
    ap.add_argument("--prompt", default="What is the capital of France?")
    ap.add_argument("--max-tokens", type=int, default=24)
    args = ap.parse_args()
    print(f"openai {openai.__version__}")

    proc, port = start(args.instruct, args.checkpoint, args.model_id)
    base = f"http://127.0.0.1:{port}/v1"
    client = openai.OpenAI(base_url=base, api_key="not-needed", max_retries=0, timeout=600)
    model, n = args.model_id, args.max_tokens
    msgs = [{"role": "user", "content": args.prompt}]

    # A chat completion, with usage counts.
    r = client.chat.completions.create(model=model, messages=msgs, max_tokens=n, temperature=0)
    text = r.choices[0].message.content
    print(f"      answer: {text!r} (finish {r.choices[0].finish_reason}, usage {r.usage.prompt_tokens}+{r.usage.completion_tokens})")
    check("chat completion", r.object == "chat.completion" and r.choices[0].message.role == "assistant" and text is not None
          and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens and r.usage.completion_tokens > 0)

    # Streamed vs whole with the same seed (sampled).
    whole = client.chat.completions.create(model=model, messages=msgs, max_tokens=n, temperature=0.8, seed=7)
    pieces, finish, usage = [], None, None
    for chunk in client.chat.completions.create(model=model, messages=msgs, max_tokens=n, temperature=0.8, seed=7, stream=True,
                                                stream_options={"include_usage": True}):
        if chunk.choices:
            if chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    check("streamed chunks concatenate to the non-streamed text (seed 7)", "".join(pieces) == whole.choices[0].message.content,
          f"{len(pieces)} chunks, {''.join(pieces)!r}")
    check("stream finish reason and usage", finish == whole.choices[0].finish_reason and usage is not None
          and usage.completion_tokens == whole.usage.completion_tokens)

    # A stop string from the middle of the greedy answer.
    if text and len(text) >= 4:
        stop_at = text[len(text) // 2:len(text) // 2 + 2]
        cut = client.chat.completions.create(model=model, messages=msgs, max_tokens=n, temperature=0, stop=[stop_at])
        check(f"stop string {stop_at!r}", cut.choices[0].message.content == text[:text.index(stop_at)]
              and cut.choices[0].finish_reason == "stop", repr(cut.choices[0].message.content))
    else:
        check("stop string", False, f"the greedy answer {text!r} is too short to cut")

    # 8 concurrent clients, each with its own prompt, each getting its solo answer.
    prompts = [f"{args.prompt} ({i})" if i % 2 else f"Say the number {i}." for i in range(8)]
    solo = [client.chat.completions.create(model=model, messages=[{"role": "user", "content": p}], max_tokens=n,
                                           temperature=0).choices[0].message.content for p in prompts]

    def ask(p):
        c = openai.OpenAI(base_url=base, api_key="not-needed", max_retries=0, timeout=600)
        return c.chat.completions.create(model=model, messages=[{"role": "user", "content": p}], max_tokens=n,
                                         temperature=0).choices[0].message.content

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        together = list(pool.map(ask, prompts))
    check("8 concurrent clients each get their own answer", together == solo,
          f"{time.time() - t0:.1f} s together; {sum(a == b for a, b in zip(together, solo))}/8 equal to solo")

    # Legacy completions and the model list.
    c = client.completions.create(model=model, prompt="The capital of France is", max_tokens=8, temperature=0)
    check("completion", c.object == "text_completion" and isinstance(c.choices[0].text, str), repr(c.choices[0].text))
    check("models list", [m.id for m in client.models.list().data] == [model])

    # Bad requests: OpenAI-style errors with the right status; the server stays up.
    request = urllib.request.Request(f"{base}/chat/completions", data=b'{"model": "x", "messages": [',
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        urllib.request.urlopen(request, timeout=60)
        status, err = 200, {}
    except urllib.error.HTTPError as e:
        status, err = e.code, json.loads(e.read()).get("error", {})
    check("malformed JSON -> 400 invalid_json", status == 400 and err.get("code") == "invalid_json", err.get("message", ""))
    try:
        client.chat.completions.create(model="gpt-4o", messages=msgs, max_tokens=4)
        check("unknown model -> 404", False, "accepted")
    except openai.NotFoundError as e:
        check("unknown model -> 404 model_not_found", e.status_code == 404 and e.code == "model_not_found", e.message)
    try:
        client.chat.completions.create(model=model, messages=msgs, max_tokens=10_000_000)
        check("max_tokens over the context -> 400", False, "accepted")
    except openai.BadRequestError as e:
        check("max_tokens over the context -> 400 context_length_exceeded", e.code == "context_length_exceeded", e.message)
    try:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "a" * 10_000_000}], max_tokens=4)
        check("10 MB body -> 413", False, "accepted")
    except openai.APIStatusError as e:
        check("10 MB body -> 413 request_too_large", e.status_code == 413 and e.code == "request_too_large", e.message)
    except openai.APIConnectionError as e:
        check("10 MB body -> 413", False, f"connection error instead of a 413: {e}")
    again = client.chat.completions.create(model=model, messages=msgs, max_tokens=n, temperature=0)
    check("still up after the bad requests", again.choices[0].message.content == text)
    stop(proc, "server")

    # The same with an API key.
    proc, port = start(args.instruct, args.checkpoint, args.model_id, ["--api-key", "k3y"])
    base = f"http://127.0.0.1:{port}/v1"
    try:
        openai.OpenAI(base_url=base, api_key="wrong", max_retries=0).models.list()
        check("wrong API key -> 401", False, "accepted")
    except openai.AuthenticationError as e:
        check("wrong API key -> 401 invalid_api_key", e.status_code == 401 and e.code == "invalid_api_key")
    keyed = openai.OpenAI(base_url=base, api_key="k3y", max_retries=0, timeout=600)
    check("right API key answers", keyed.chat.completions.create(model=model, messages=msgs, max_tokens=n, temperature=0)
          .choices[0].message.content == text)
    stop(proc, "server with --api-key")

    failed = [name for name, ok in RESULTS if not ok]
    print(f"{len(RESULTS) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
