#!/usr/bin/env python3
"""Writes the parity fixtures of the Templating tests, rendered by transformers itself.

Run from the repository root with the reference venv (scripts/reference-venv.sh):

    .venv/bin/python scripts/make_chat_template_fixtures.py

It renders every chat template in Tests/TemplatingTests/Fixtures/templates/ over the
conversations below with transformers' own `render_jinja_template` (the function behind
`tokenizer.apply_chat_template(..., tokenize=False)`), after transformers' own message
normalisation (`_normalize_chat_messages`), and writes:

  Fixtures/chat/conversations.json   the conversations and tool schemas (key order kept)
  Fixtures/chat/<template>.json      one file per template: for every case the expected
                                     text, or the raise_exception message, or the Python
                                     error type, and the {% generation %} spans
  Fixtures/features.json             one row per feature: a small template, its context and
                                     jinja2's output or error, in transformers' environment
  Fixtures/oasst_digests.json        for 564 real OpenAssistant conversations read from
                                     ../shared/datasets (not copied), the FNV-1a 64 digest of
                                     each rendering by eleven templates (or the raised message)

`strftime_now` sees a fixed clock (2024-07-26 14:05:09), which the Swift tests inject too.
Python is never needed to run the tests: the outputs are committed.
"""
import datetime as _dt
import json
import re
import sys
from pathlib import Path

import jinja2
import transformers
from transformers.utils import chat_template_utils as ctu

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "TemplatingTests" / "Fixtures"
TEMPLATES = FIXTURES / "templates"
FIXED_NOW = _dt.datetime(2024, 7, 26, 14, 5, 9)


class _FixedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return FIXED_NOW


# transformers' strftime_now calls `datetime.now()` from its module globals at call time.
ctu.datetime = _FixedDatetime

# name -> (origin of the template text, its licence, the tokenizer's special tokens)
SOURCES = {
    "smollm2": ("HuggingFaceTB/SmolLM2-135M-Instruct, read from models/SmolLM2-135M-Instruct.Q4_1.gguf (tokenizer.chat_template)",
                "Apache-2.0", {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "unk_token": "<|endoftext|>", "pad_token": "<|im_end|>"}),
    "chatml-openhermes": ("teknium/OpenHermes-2.5-Mistral-7B, as quoted in llama.cpp tests/test-chat-template.cpp (MIT)",
                          "Apache-2.0", {"bos_token": "<s>", "eos_token": "<|im_end|>", "unk_token": "<unk>"}),
    "llama-2-chat": ("meta-llama/Llama-2-13b-chat-hf, as quoted in mistral.rs tests (MIT)",
                     "Llama 2 Community License (template text quoted from an MIT repository)", {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}),
    "llama-3-instruct": ("meta-llama/Meta-Llama-3-8B-Instruct, as quoted in mistral.rs tests (MIT)",
                         "Llama 3 Community License (quoted from an MIT repository)", {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}),
    "llama-3.1-instruct": ("meta-llama/Meta-Llama-3.1-8B-Instruct, the GGUF-embedded chat template quoted in a public issue log",
                           "Llama 3.1 Community License", {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}),
    "llama-3.2-instruct": ("meta-llama/Llama-3.2-3B-Instruct, llama.cpp models/templates/meta-llama-Llama-3.2-3B-Instruct.jinja (MIT)",
                           "Llama 3.2 Community License (quoted from an MIT repository)", {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}),
    "mistral-7b-instruct-v0.1": ("mistralai/Mistral-7B-Instruct-v0.1, as quoted in mistral.rs tests (MIT)",
                                 "Apache-2.0", {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}),
    "mistral-nemo-instruct-2407": ("mistralai/Mistral-Nemo-Instruct-2407 (v3-tekken, tools), llama.cpp models/templates (MIT)",
                                   "Apache-2.0", {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}),
    "qwen2.5-instruct": ("Qwen/Qwen2.5-7B-Instruct, as quoted in minja-swift tests", "Apache-2.0",
                         {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}),
    "qwen3": ("Qwen/Qwen3 chat template (as shipped with onnx-community/LFM2 demo code quoting it)", "Apache-2.0",
              {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}),
    "gemma-7b-it": ("google/gemma-7b-it, as quoted in mistral.rs tests (MIT)", "Gemma Terms of Use (quoted from an MIT repository)",
                    {"bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>", "pad_token": "<pad>"}),
    "phi-3.5-mini-instruct": ("microsoft/Phi-3.5-mini-instruct, llama.cpp models/templates (MIT)", "MIT",
                              {"bos_token": "<s>", "eos_token": "<|endoftext|>", "unk_token": "<unk>", "pad_token": "<|endoftext|>"}),
    "zephyr-7b-beta": ("HuggingFaceH4/zephyr-7b-beta; TinyLlama/TinyLlama-1.1B-Chat-v1.0 ships the same template", "MIT / Apache-2.0",
                       {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}),
    "deepseek-coder-33b-instruct": ("deepseek-ai/deepseek-coder-33b-instruct, llama.cpp tests/test-chat-template.cpp (MIT)",
                                    "DeepSeek License (quoted from an MIT repository)", {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<|EOT|>"}),
    "deepseek-r1-distill-qwen": ("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B, llama.cpp models/templates (MIT)", "MIT",
                                 {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"}),
    "command-r-plus-tool-use": ("CohereForAI/c4ai-command-r-plus tool_use template, llama.cpp models/templates (MIT)",
                                "CC-BY-NC-4.0 model; template quoted from an MIT repository", {"bos_token": "<BOS_TOKEN>", "eos_token": "<|END_OF_TURN_TOKEN|>"}),
    "granite-3.0-instruct": ("ibm-granite/granite-3.0-8b-instruct, llama.cpp tests/test-chat-template.cpp (MIT)", "Apache-2.0",
                             {"bos_token": "<|end_of_text|>", "eos_token": "<|end_of_text|>"}),
    "chatml-generation": ("written for InstructKit (ChatML with {% generation %} blocks)", "project licence",
                          {"eos_token": "<|im_end|>"}),
    "llama-3-generation": ("written for InstructKit (Llama 3 format, generation blocks in and out of a macro)", "project licence",
                           {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}),
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"},
            },
            "required": ["city"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web and return the top results.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for"},
                "max_results": {"type": "integer", "description": "How many results (1-10)"},
                "sites": {"type": "array", "items": {"type": "string"}, "description": "Only these sites"},
                "fresh": {"type": "boolean", "description": "Only recent pages"},
                "page": {"type": ["string", "integer"], "description": "Page token or number"},
                "score": {"type": "number", "description": "Minimum relevance, 0.5 by default"},
            },
            "required": ["query"],
        },
    },
}
TOOLS = [WEATHER_TOOL, SEARCH_TOOL]


def tool_call(arguments):
    return {"id": "call12345", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}


CONVERSATIONS = {
    "user": [{"role": "user", "content": "Hello!"}],
    "system_user": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is 2 + 2?"},
    ],
    "multi_turn": [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi there"},
        {"role": "user", "content": "Who are you"},
        {"role": "assistant", "content": "   I am an assistant   "},
        {"role": "user", "content": "Another question"},
    ],
    "system_multi_turn": [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Name a prime."},
        {"role": "assistant", "content": "7"},
        {"role": "user", "content": "And an even one?"},
        {"role": "assistant", "content": "2"},
    ],
    "special_characters": [
        {"role": "system", "content": "Quotes: 'single' and \"double\"; a backslash \\ and braces {{ x }} {% y %}"},
        {"role": "user", "content": "Line one\nLine two\n\n\tTabbed\r\nWindows line\n"},
        {"role": "assistant", "content": "Ünïcödé — 日本語 😀 e\u0301 \u00a0nbsp\u2028sep"},
        {"role": "user", "content": "  padded  "},
    ],
    "empty_content": [
        {"role": "user", "content": ""},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": " "},
    ],
    "tool_use": [
        {"role": "system", "content": "You can call tools."},
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [tool_call({"city": "Paris", "unit": "celsius"})]},
        {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "{\"temperature\": 22, \"sky\": \"clear\"}"},
        {"role": "assistant", "content": "It is 22 °C and clear in Paris."},
    ],
    "tool_use_string_arguments": [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [tool_call("{\"city\": \"Oslo\"}")]},
        {"role": "tool", "tool_call_id": "call12345", "content": "rain, 9 degrees"},
        {"role": "assistant", "content": "Rainy, 9 °C."},
    ],
    "reasoning": [
        {"role": "user", "content": "Think first: what is 3*7?"},
        {"role": "assistant", "content": "21", "reasoning_content": "3 times 7 is 21."},
        {"role": "user", "content": "Thanks. And 6*7?"},
    ],
    "think_tags": [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "<think>\nAdd them.\n</think>\n\n4"},
    ],
    "roles_not_alternating": [
        {"role": "user", "content": "first"},
        {"role": "user", "content": "second"},
    ],
    "system_only": [{"role": "system", "content": "Only a system prompt."}],
}

# (conversation, tools, extra variables) rendered for every template, each with and without
# add_generation_prompt; then the per-template extras below.
COMMON_CASES = [(name, None, {}) for name in CONVERSATIONS if not name.startswith("tool_use")] + [
    ("tool_use", TOOLS, {}),
    ("tool_use_string_arguments", TOOLS, {}),
    ("user", TOOLS, {}),
]
EXTRA_CASES = {
    "llama-3.1-instruct": [("tool_use", TOOLS, {"builtin_tools": ["brave_search", "wolfram_alpha"]}),
                           ("system_user", None, {"date_string": "01 Jan 2025"}),
                           ("tool_use", TOOLS, {"tools_in_user_message": False})],
    "llama-3.2-instruct": [("system_user", None, {"date_string": "01 Jan 2025"}),
                           ("tool_use", TOOLS, {"tools_in_user_message": False})],
    "qwen3": [("multi_turn", None, {"enable_thinking": False})],
}


def render(template, messages, add_generation_prompt, tools, variables, special, track):
    conversation = ctu._normalize_chat_messages(messages)
    try:
        rendered, spans = ctu.render_jinja_template(
            conversations=[conversation], tools=tools, documents=None, chat_template=template,
            return_assistant_tokens_mask=track, add_generation_prompt=add_generation_prompt,
            **{**special, **variables})
    except jinja2.exceptions.TemplateError as e:
        if type(e) is jinja2.exceptions.TemplateError:  # what raise_exception throws
            return {"raised": str(e)}
        return {"error": type(e).__name__, "message": str(e)}
    except Exception as e:  # TypeError, ValueError, ... from inside a template
        return {"error": type(e).__name__, "message": str(e)}
    result = {"expected": rendered[0]}
    if track:
        result["generation"] = [list(s) for s in spans[0]]
    return result


def write_json(path, value):
    text = json.dumps(value, ensure_ascii=False, indent=1) + "\n"
    path.write_text(text, encoding="utf-8")
    return len(text.encode())


SMOLLM2_GGUF = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def refresh_smollm2_template():
    """templates/smollm2.jinja is the GGUF's tokenizer.chat_template (scripts/fetch-smollm2.sh fetches the model)."""
    if not SMOLLM2_GGUF.exists():
        print(f"{SMOLLM2_GGUF} is absent (scripts/fetch-smollm2.sh): keeping the committed templates/smollm2.jinja", file=sys.stderr)
        return
    import gguf
    field = gguf.GGUFReader(str(SMOLLM2_GGUF)).fields["tokenizer.chat_template"]
    (TEMPLATES / "smollm2.jinja").write_text(bytes(field.parts[field.data[0]]).decode("utf-8"), encoding="utf-8")


def make_chat_fixtures():
    out_dir = FIXTURES / "chat"
    out_dir.mkdir(exist_ok=True)
    write_json(out_dir / "conversations.json", {"conversations": CONVERSATIONS, "tools": TOOLS})
    for path in sorted(TEMPLATES.glob("*.jinja")):
        name = path.stem
        origin, licence, special = SOURCES[name]
        template = path.read_text(encoding="utf-8")
        track = re.search(r"\{%-?\s*generation\s*-?%\}", template) is not None
        cases = []
        for conversation, tools, variables in COMMON_CASES + EXTRA_CASES.get(name, []):
            for agp in (False, True):
                case = {"conversation": conversation, "tools": tools is not None, "variables": variables, "add_generation_prompt": agp}
                case.update(render(template, CONVERSATIONS[conversation], agp, tools, variables, special, track))
                cases.append(case)
        size = write_json(out_dir / f"{name}.json", {
            "name": name, "template_file": f"templates/{path.name}", "source": origin, "license": licence,
            "special_tokens": special, "cases": cases})
        rendered = sum("expected" in c for c in cases)
        print(f"{name:32} {len(cases):3} cases, {rendered:3} rendered, {size // 1024:4} KiB")


# ---------------------------------------------------------------------------------------------
# Feature rows: (name, template, context). Each is rendered in transformers' environment.
F = []


def row(name, template, context=None):
    F.append((name, template, context or {}))


# Whitespace control
row("ws_trim_blocks", "{% if true %}\nyes\n{% endif %}\nafter")
row("ws_lstrip_blocks", "line\n    {% if true %}\n    x\n    {% endif %}\nend")
row("ws_minus_markers", "a   {%- if true -%}   b   {%- endif -%}   c {{- ' d ' -}} e")
row("ws_plus_disables_lstrip", "x\n    {%+ if true %}y{% endif %}")
row("ws_plus_disables_trim", "{% if true +%}\nkeep{% endif %}")
row("ws_variable_not_trimmed", "{{ 'a' }}\nb")
row("ws_comment_trim", "a\n  {# comment #}\nb\n{#- c -#}  d")
row("ws_trailing_newline_removed", "text\n")
row("ws_only_one_trailing_newline_removed", "text\n\n")
row("ws_crlf_normalised", "a\r\nb\r\n{% if true %}\r\nc{% endif %}")
row("ws_lstrip_after_trimmed_newline", "{% if true %}\n  {% if true %}x{% endif %}\n{% endif %}")
row("ws_lstrip_not_for_text_before", "text   {% if true %}x{% endif %}")
row("ws_unicode_space_minus", "a\u00a0\u2003{%- if true %}b{% endif %}")
row("raw_block", "{% raw %}{{ not evaluated }} {% if %}{% endraw %}")
row("raw_block_ws", "a\n  {% raw -%}\n  {{ x }}  \n  {%- endraw %}\nb")
# Literals and printing
row("print_literals", "{{ 1 }} {{ 1.0 }} {{ 1.5e3 }} {{ 1e16 }} {{ 0.0001 }} {{ 1e-5 }} {{ -0.0 }} {{ 10/4 }} {{ 2**0.5 }}")
row("print_bools_none", "{{ true }} {{ True }} {{ false }} {{ none }} {{ None }}|{{ undefined_name }}|")
row("print_list_dict_repr", "{{ [1, 'a', none, true, 1.5, {'k': [2]}] }} {{ {'b': 1, 'a': \"it's\"} }}")
row("print_tuple_repr", "{{ (1, 2) }} {{ (1,) }} {{ () }}")
row("print_string_repr_escapes", "{{ ['it\\'s', 'say \"hi\"', 'both \\' \"', 'tab\\tnl\\n', '\\x01', 'é\u00a0\u200b😀'] }}")
row("string_escapes", "{{ 'a\\tb\\nc\\\\d\\'e\\u00e9\\x41\\101' }}|{{ \"\\q\" }}")
row("string_adjacent_concat", "{{ 'a' 'b' \"c\" }}")
row("integer_forms", "{{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }}")
row("messages_repr", "{{ messages }}", {"messages": [{"role": "user", "content": "hi 'x'"}]})
# Arithmetic and operators
row("arithmetic", "{{ 7 + 2 }} {{ 7 - 2 }} {{ 7 * 2 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 10 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 2 ** -1 }}")
row("arithmetic_precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 10 - 2 - 3 }} {{ (1 + 2) ~ 3 }} {{ 1 ~ 2 * 3 }}")
row("string_ops", "{{ 'ab' + 'cd' }} {{ 'ab' * 3 }} {{ 3 * 'x' }} {{ 'x' ~ 1 ~ none ~ 1.0 ~ true }} {{ [1] + [2, 3] }} {{ [0] * 3 }}")
row("percent_format", "{{ 'Hello %s, %d items' % ('Ann', 3) }} {{ '%r' % 'x' }} {{ '100%%' % () }}")
row("bool_int_arithmetic", "{{ true + 1 }} {{ true * 2.5 }}")
row("comparisons", "{{ 1 < 2 }} {{ 2 <= 2 }} {{ 3 > 4 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ [1, 2] < [1, 3] }} {{ true == 1 }}")
row("logic", "{{ true and 'x' }} {{ 0 and 'x' }} {{ '' or 'y' }} {{ 'a' or 'b' }} {{ not 0 }} {{ not 'a' }} {{ none or [] }}")
row("in_operator", "{{ 'a' in 'abc' }} {{ 'z' not in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'v' in {'k': 'v'} }} {{ 1 in (1, 2) }} {{ '' in 'x' }}")
row("conditional_expr", "{{ 'yes' if 1 else 'no' }} {{ 'yes' if 0 else 'no' }} [{{ 'x' if false }}] {{ 1 if false else 2 if true else 3 }}")
row("unicode_compare", "{{ 'é' == 'e\u0301' }} {{ 'Z' < 'a' }} {{ 'é' > 'z' }}")
# Variables, attributes, items, slices
row("attribute_and_item", "{{ m.role }} {{ m['content'] }} [{{ m.missing }}] [{{ m['missing'] }}] {{ m.items is callable }}", {"m": {"role": "user", "content": "hi"}})
row("dict_key_vs_method", "{{ d['items'] }} {{ d.get('items') }} {{ d.get('nope', 'dflt') }} {{ d.get('nope') }}", {"d": {"items": "key value"}})
row("list_index", "{{ xs[0] }} {{ xs[-1] }} [{{ xs[10] }}] {{ xs.0 }}", {"xs": ["a", "b", "c"]})
row("slices", "{{ xs[1:] }} {{ xs[:-1] }} {{ xs[::-1] }} {{ xs[::2] }} {{ xs[-2:] }} {{ xs[5:] }} {{ 'héllo'[1:3] }} {{ 'abc'[::-1] }} {{ xs[3:0:-1] }}", {"xs": [1, 2, 3, 4]})
row("string_index", "{{ 'héllo'[1] }} {{ 'abc'[-1] }} [{{ 'abc'[5] }}]")
row("none_attribute", "[{{ none.x }}] [{{ none['x'] }}]")
# Statements
row("if_elif_else", "{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}other{% endif %},{% endfor %}")
row("for_loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}")
row("for_previtem_nextitem", "{% for x in [1, 2, 3] %}[{{ loop.previtem }}|{{ loop.nextitem }}]{% endfor %}")
row("for_cycle", "{% for x in range(5) %}{{ loop.cycle('odd', 'even') }} {% endfor %}")
row("for_else", "{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in [1] %}{{ x }}{% else %}empty{% endfor %}")
row("for_filter", "{% for x in range(10) if x is odd %}{{ x }}:{{ loop.index }}/{{ loop.length }} {% endfor %}")
row("for_unpack", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}", {"d": {"z": 1, "a": 2}})
row("for_dict_and_string", "{% for k in d %}{{ k }}{% endfor %}|{% for c in 'héy' %}{{ c }}.{% endfor %}", {"d": {"z": 1, "a": 2}})
row("for_nested_loop", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.depth }}{{ a }}{{ b }}{{ loop.index }} {% endfor %}{{ loop.index }}|{% endfor %}")
row("for_over_undefined", "[{% for x in nothing %}{{ x }}{% endfor %}]")
row("break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}")
row("set_scoping", "{% set x = 1 %}{% for i in range(3) %}{% set x = x + 10 %}{{ x }} {% endfor %}{{ x }}{% if true %}{% set y = 5 %}{% endif %} {{ y }}")
row("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = 3, 4 %} {{ t }}")
row("set_block", "{% set block %}Hello {{ name }}!{% endset %}[{{ block }}]{% set up | upper %}shout{% endset %}{{ up }}", {"name": "Ann"})
row("namespace", "{% set ns = namespace(found=false, n=0) %}{% for x in [1, 2, 3] %}{% if x == 2 %}{% set ns.found = true %}{% endif %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.found }} {{ ns.n }} {{ ns }}")
row("namespace_from_dict", "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}[{{ ns.c }}]")
row("macro_defaults_keywords", "{% macro greet(name, greeting='Hello', punct='!') %}{{ greeting }}, {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', 'Hi') }} {{ greet(name='Cy', punct='?') }}")
row("macro_varargs_kwargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k='v') }}")
row("macro_sees_globals", "{% set g = 'top' %}{% macro m() %}{{ g }}-{{ late }}{% endmacro %}{% set late = 'late' %}{{ m() }}")
row("macro_recursion", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }}")
row("macro_caller", "{% macro box() %}[{{ caller() }}]{% endmacro %}{% for x in 'ab' %}{% call box() %}{{ x }}{% endcall %}{% endfor %}")
row("macro_caller_args", "{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(item) each([1, 2]) %}<{{ item }}>{% endcall %}")
row("filter_block", "{% filter upper %}hello {{ 'world' }}{% endfilter %}")
row("with_block", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]")
row("comments", "a{# a comment {{ x }} #}b{#- trimmed -#} c")
row("print_tag", "{% print 'p' ~ 1 %}")
row("generation_tag", "x{% generation %}gen {{ 1 }}{% endgeneration %}y")
# Filters
row("filter_trim_strip", "[{{ '  a b  '|trim }}] [{{ 'xxaxx'|trim('x') }}] [{{ '\t\u00a0a\n'|trim }}]")
row("filter_tojson", "{{ d|tojson }} {{ d|tojson(indent=2) }} {{ [1, 'é', none, true, 1.0, 'a\"b\\\\c\\n'] | tojson }}", {"d": {"b": [1, {"c": None}], "a": "x"}})
row("filter_tojson_options", "{{ d|tojson(indent='\t') }}|{{ d|tojson(separators=(',', ':')) }}|{{ d|tojson(sort_keys=true) }}|{{ 'é😀'|tojson(ensure_ascii=true) }}|{{ {}|tojson(indent=4) }}{{ []|tojson(indent=4) }}", {"d": {"b": 1, "a": [2, 3]}})
row("filter_tojson_floats", "{{ [1.0, 2.5e20, 1e-7, -0.0, 0.1, 123456789.123, 1e16, 1e15] | tojson }}")
row("filter_length_count", "{{ 'héllo'|length }} {{ [1, 2]|count }} {{ {'a': 1}|length }} {{ nothing|length }} {{ '😀e\u0301'|length }}")
row("filter_case", "{{ 'hello WORLD'|upper }} {{ 'Hello'|lower }} {{ 'hello world-wide (x) [y]'|title }} {{ 'hELLO wORLD'|capitalize }} {{ 'ß'|upper }}")
row("filter_replace", "{{ 'hello'|replace('l', 'L') }} {{ 'hello'|replace('l', 'L', 1) }} {{ 'abc'|replace('', '-') }}")
row("filter_first_last", "{{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ 'abc'|first }} {{ 'abc'|last }} [{{ []|first }}] {{ {'k': 1, 'j': 2}|first }}")
row("filter_join", "{{ ['a', 'b']|join(', ') }} {{ [1, 2]|join }} {{ users|join(', ', attribute='name') }}", {"users": [{"name": "a"}, {"name": "b"}]})
row("filter_default", "{{ nothing|default('d') }} {{ none|default('d') }} {{ ''|default('d') }} {{ ''|default('d', true) }} {{ 0|d('z', boolean=true) }} [{{ nothing|default }}]")
row("filter_list_string", "{{ 'abc'|list }} {{ (1, 2)|list }} {{ {'a': 1}|list }} {{ 1|string }} {{ [1]|string }} {{ none|string }}")
row("filter_int_float", "{{ '42'|int }} {{ '3.7'|int }} {{ 3.9|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 'ff'|int(base=16) }} {{ true|int }} {{ '1.5'|float }} {{ 'x'|float }} {{ 2|float }} {{ none|int }}")
row("filter_abs_round", "{{ -3|abs }} {{ (-2.5)|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 3|round }} {{ 2.675|round(2) }} {{ 3.14159|round(3) }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(0, 'floor') }} {{ 1234.5|round(-2) }}")
row("filter_items", "{% for k, v in d|items %}{{ k }}:{{ v }} {% endfor %}{{ d|items|list }}", {"d": {"x": 1, "y": [2]}})
row("filter_map", "{{ users|map(attribute='name')|list }} {{ ['a', 'b']|map('upper')|list }} {{ users|map(attribute='age', default=0)|list }} {{ users|map(attribute='tags.0')|list }}",
    {"users": [{"name": "a", "age": 3, "tags": ["t1"]}, {"name": "b", "tags": ["t2"]}]})
row("filter_select_reject", "{{ [1, 2, 3, 4]|select('odd')|list }} {{ [1, 2, 3, 4]|reject('odd')|list }} {{ [0, 1, '', 'a']|select|list }} {{ [1, 5, 10]|select('gt', 4)|list }} {{ ['a', 'b']|select('equalto', 'a')|list }}")
row("filter_selectattr", "{{ ms|selectattr('role', 'equalto', 'user')|map(attribute='content')|list }} {{ ms|rejectattr('role', 'eq', 'user')|list|length }} {{ ms|selectattr('tool_calls')|list|length }} {{ ms|selectattr('tool_calls', 'undefined')|list|length }}",
    {"ms": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "tool_calls": [1]}, {"role": "user", "content": "q2"}]})
row("filter_unique_sort", "{{ ['b', 'A', 'a', 'B']|unique|list }} {{ ['b', 'A', 'a', 'B']|unique(case_sensitive=true)|list }} {{ ['b', 'A', 'a', 'B']|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ users|sort(attribute='age')|map(attribute='name')|list }}",
    {"users": [{"name": "x", "age": 30}, {"name": "y", "age": 20}, {"name": "z", "age": 30}]})
row("filter_reverse", "{{ 'abc'|reverse }} {{ [1, 2, 3]|reverse|list }}")
row("filter_indent", "[{{ 'a\nb\n\nc'|indent }}] [{{ 'a\nb'|indent(2, true) }}] [{{ 'a\n\nb'|indent(2, blank=true) }}] [{{ 'a\nb\n'|indent('> ') }}]")
row("filter_safe_escape", "{{ '<b>'|safe }} {{ '<a href=\"x\">&\\'</a>'|e }} {{ '<>'|escape }} {{ 1|e }}")
row("filter_batch", "{{ [1, 2, 3, 4, 5]|batch(2)|list }} {{ [1, 2, 3]|batch(2, 'x')|list }}")
row("filter_wordcount", "{{ 'one two, three_four 5'|wordcount }}")
row("filter_min_max_sum", "{{ [3, 1, 2]|min }} {{ [3, 1, 2]|max }} {{ ['b', 'A']|min }} {{ [1, 2, 3]|sum }} {{ items|sum(attribute='n') }}", {"items": [{"n": 1}, {"n": 2.5}]})
row("filter_dictsort", "{{ {'b': 1, 'a': 2}|dictsort }} {{ {'b': 1, 'a': 2}|dictsort(by='value') }}")
row("filter_attr", "{{ d|attr('k') }}", {"d": {"k": "v"}})
row("filter_chain_precedence", "{{ -3|abs }} {{ 'a' ~ 'b'|upper }} {{ [1, 2]|length + 1 }}")
# Tests
row("tests_types", "{{ 1 is number }}{{ true is number }}{{ 1.5 is float }}{{ 1 is integer }}{{ true is integer }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is mapping }}{{ true is boolean }}{{ 1 is boolean }}{{ none is none }}{{ x is none }}")
row("tests_defined", "{{ x is defined }}{{ y is defined }}{{ y is undefined }}{{ x.a is defined }}{{ x.b is defined }}{{ x is not none }}", {"x": {"a": 1}})
row("tests_iterable_sequence", "{{ 'a' is iterable }}{{ [] is iterable }}{{ {} is iterable }}{{ 1 is iterable }}{{ nothing is iterable }}{{ 'a' is sequence }}{{ {} is sequence }}{{ 1 is sequence }}")
row("tests_numbers", "{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(4) }}{{ 3 is gt 2 }}{{ 3 is lessthan 2 }}{{ 2 is ge 2 }}{{ 2 is le 1 }}{{ 2 is ne 2 }}")
row("tests_equality", "{{ 'a' is equalto 'a' }}{{ 'a' is eq 'b' }}{{ 1 is sameas 1 }}{{ none is sameas none }}{{ 1 is in [1, 2] }}{{ 'x' is in 'xyz' }}")
row("tests_truth", "{{ true is true }}{{ 1 is true }}{{ false is false }}{{ 0 is false }}{{ none is false }}")
row("tests_case_callable", "{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ 'aB' is lower }}{{ range is callable }}{{ 'upper' is filter }}{{ 'nope' is filter }}{{ 'odd' is test }}{{ 'x' is escaped }}")
row("tests_not_and_chain", "{{ not 1 is odd }}{{ 2 is not odd }}{{ x is defined and x > 1 }}", {"x": 2})
# Methods
row("str_strip_methods", "[{{ '  a  '.strip() }}] [{{ 'xxaxx'.strip('x') }}] [{{ '  a  '.lstrip() }}] [{{ '  a  '.rstrip() }}] [{{ '\\n\\nx\\n'.lstrip('\\n') }}]")
row("str_split", "{{ 'a b  c'.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ '  x  y '.split(None, 1) }} {{ 'l1\\nl2\\r\\nl3'.splitlines() }} {{ ''.split(',') }}")
row("str_predicates", "{{ 'abc'.startswith('ab') }}{{ 'abc'.startswith(('x', 'a')) }}{{ 'abc'.endswith('bc') }}{{ 'abc'.endswith('b') }}{{ '<tool_response>x</tool_response>'.startswith('<tool_response>') }}")
row("str_case_methods", "{{ 'hello world'.upper() }} {{ 'HeLLo'.lower() }} {{ \"hello world's-x(y\".title() }} {{ 'hELLO'.capitalize() }} {{ 'aB'.swapcase() }}")
row("str_find_replace_count", "{{ 'hello'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.find('z') }} {{ 'hello'.replace('l', 'L') }} {{ 'hello'.replace('l', 'L', 1) }} {{ 'banana'.count('an') }} {{ 'héllo'.find('l') }}")
row("str_join_format", "{{ ', '.join(['a', 'b']) }} {{ '-'.join('abc') }} {{ '{} and {}'.format('x', 1) }} {{ '{1}{0}'.format('a', 'b') }} {{ '{name}!'.format(name='Ann') }} {{ '{{literal}}'.format() }} {{ '{!r}'.format('q') }}")
row("str_is_methods", "{{ '123'.isdigit() }}{{ 'a1'.isdigit() }}{{ 'abc'.isalpha() }}{{ 'a1'.isalnum() }}{{ ' \\t'.isspace() }}{{ 'ABC'.isupper() }}{{ 'abc'.islower() }}")
row("dict_methods", "{{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }} {% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %} {{ d.get('a') }} {{ d.copy() }}", {"d": {"b": 1, "a": 2}})
row("list_methods", "{{ xs.index(2) }} {{ xs.count(1) }}", {"xs": [1, 2, 1]})
# Globals
row("global_range", "{{ range(3)|list }} {{ range(1, 4)|list }} {{ range(10, 0, -3)|list }} {{ range(0)|list }}")
row("global_dict", "{{ dict(a=1, b='x') }} {{ dict({'x': 1}, y=2) }} {{ dict([('k', 'v')]) }}")
row("global_raise", "{% if true %}{{ raise_exception('Custom message: ' ~ 42) }}{% endif %}")
row("global_strftime", "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%A %B %-d %H:%M:%S %p %j %y %m %I %a') }}|{{ strftime_now('%Y-%m-%d %%') }}")
row("strftime_is_defined", "{{ strftime_now is defined }} {{ raise_exception is defined }} {{ namespace is callable }}")
# Undefined semantics
row("undefined_semantics", "[{{ nothing }}] {{ nothing is defined }} {{ nothing|length }} [{{ nothing|upper }}] [{{ nothing ~ 'x' }}] {{ not nothing }} {{ nothing == nothing }} {{ 'a' in nothing }}")
row("undefined_attribute_of_missing_key", "[{{ m.missing }}] {{ m.missing is defined }}", {"m": {"a": 1}})
# Errors (jinja2 must fail here; the Swift side must throw)
row("error_unclosed_variable", "{{ x ")
row("error_unclosed_block", "{% if true %}no end")
row("error_unclosed_string", "{{ 'abc }}")
row("error_unclosed_comment", "a {# never closed")
row("error_unknown_tag", "{% frobnicate %}")
row("error_unknown_filter", "{{ x|frobnicate }}")
row("error_unknown_test", "{{ x is frobnicated }}")
row("error_stray_end", "{% endif %}")
row("error_bad_expression", "{{ 1 + }}")
row("error_unbalanced", "{{ (1 + 2 }}")
row("error_attribute_of_undefined", "{{ nothing.x }}")
row("error_item_of_undefined", "{{ nothing['x'] }}")
row("error_add_str_int", "{{ 'a' + 1 }}")
row("error_add_undefined", "{{ 1 + nothing }}")
row("error_none_plus", "{{ none + 1 }}")
row("error_call_undefined", "{{ nothing() }}")
row("error_not_callable", "{{ 'abc'() }}")
row("error_iterate_int", "{% for x in 5 %}{% endfor %}")
row("error_division_by_zero", "{{ 1 / 0 }}")
row("error_modulo_by_zero", "{{ 1 % 0 }}")
row("error_compare_types", "{{ 1 < 'a' }}")
row("error_tojson_undefined", "{{ nothing|tojson }}")
row("error_macro_too_many_args", "{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}")
row("error_macro_unknown_kwarg", "{% macro m(a) %}{% endmacro %}{{ m(b=1) }}")
row("error_list_append", "{% set xs = [] %}{{ xs.append(1) }}")
row("error_dict_pop", "{{ d.pop('a') }}", {"d": {"a": 1}})
row("error_namespace_underscore", "{% set ns = namespace() %}{% set ns._x = 1 %}")
row("error_set_attribute_non_namespace", "{% set d = {} %}{% set d.x = 1 %}")
row("error_unpack", "{% for a, b in [[1, 2, 3]] %}{% endfor %}")
row("error_break_outside_loop", "{% break %}")
row("error_filter_bad_argument", "{{ 1.5|round('y') }}")
row("error_join_non_string", "{{ ', '.join([1, 2]) }}")
row("error_range_too_large", "{{ range(1000000)|length }}")
row("error_raise_in_macro", "{% macro fail() %}{{ raise_exception('from a macro') }}{% endmacro %}{{ fail() }}")
row("unknown_filter_inside_if_ok", "{% if false %}{{ x|frobnicate }}{% endif %}ok")
row("unknown_filter_inside_condexpr_ok", "{{ (x|frobnicate) if false else 'ok' }}")
row("error_unknown_filter_inside_if_reached", "{% if true %}{{ 'x'|frobnicate }}{% endif %}")


def make_feature_fixtures():
    rows = []
    for name, template, context in F:
        entry = {"name": name, "template": template, "context": context}
        try:
            compiled = ctu._compile_jinja_template(template)
            spans = []
            with compiled.environment.activate_tracker(blocks := [], spans):
                for block in compiled.generate(**context):
                    blocks.append(block)
            entry["expected"] = "".join(blocks)
            if spans:
                entry["generation"] = [list(s) for s in spans]
        except jinja2.exceptions.TemplateError as e:
            if type(e) is jinja2.exceptions.TemplateError:
                entry["raised"] = str(e)
            else:
                entry["error"] = type(e).__name__
                entry["message"] = str(e)
        except Exception as e:
            entry["error"] = type(e).__name__
            entry["message"] = str(e)
        rows.append(entry)
    size = write_json(FIXTURES / "features.json", {"generated_by": f"transformers {transformers.__version__}, jinja2 {jinja2.__version__}",
                                                  "now": FIXED_NOW.isoformat(), "rows": rows})
    errors = sum("error" in r or "raised" in r for r in rows)
    print(f"features.json: {len(rows)} rows ({errors} error rows), {size // 1024} KiB")


OASST = ROOT.parent / "shared" / "datasets" / "instruct" / "oasst-en-564.messages.jsonl"
OASST_TEMPLATES = ["smollm2", "llama-2-chat", "llama-3.1-instruct", "mistral-7b-instruct-v0.1", "mistral-nemo-instruct-2407",
                   "qwen2.5-instruct", "qwen3", "gemma-7b-it", "zephyr-7b-beta", "phi-3.5-mini-instruct", "deepseek-r1-distill-qwen"]


def fnv1a64(text):
    h = 0xcbf29ce484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def make_oasst_digests():
    if not OASST.exists():
        print(f"{OASST} is absent: oasst_digests.json not regenerated", file=sys.stderr)
        return
    conversations = [json.loads(line)["messages"] for line in OASST.read_text(encoding="utf-8").splitlines() if line.strip()]
    digests = {}
    for name in OASST_TEMPLATES:
        template = (TEMPLATES / f"{name}.jinja").read_text(encoding="utf-8")
        special = SOURCES[name][2]
        row = []
        for messages in conversations:
            result = render(template, messages, True, None, {}, special, False)
            row.append(fnv1a64(result["expected"]) if "expected" in result else "raised: " + result.get("raised", result.get("message", "")))
        digests[name] = row
    size = write_json(FIXTURES / "oasst_digests.json", {"dataset": "../shared/datasets/instruct/oasst-en-564.messages.jsonl",
                                                       "add_generation_prompt": True, "digest": "FNV-1a 64 of the UTF-8 text", "templates": digests})
    print(f"oasst_digests.json: {len(conversations)} conversations x {len(digests)} templates, {size // 1024} KiB")


if __name__ == "__main__":
    print(f"transformers {transformers.__version__}, jinja2 {jinja2.__version__}", file=sys.stderr)
    refresh_smollm2_template()
    make_chat_fixtures()
    make_feature_fixtures()
    make_oasst_digests()
