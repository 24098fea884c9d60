#!/usr/bin/env python3
"""Writes the CSV fixtures of DatasetsTests with Python's csv module, and what Python reads back.

    python3 scripts/make_csv_fixtures.py

Tests/DatasetsTests/Fixtures/alpaca.csv is written by csv.writer (quoting as needed: commas,
quotes, line breaks inside fields, CRLF row ends, non-ASCII text, empty optional inputs), and
alpaca.csv.json holds the rows csv.DictReader reads from it (a list of objects, header order).
RecordReader must read the same records. Standard library only; the texts are made up here.
"""
import csv
import io
import json
import os

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "DatasetsTests", "Fixtures")

ROWS = [
    ("Give three tips for staying healthy.", "", "1. Eat well.\n2. Exercise.\n3. Sleep."),
    ("Translate to French", "Good morning, friends", "Bonjour, mes amis"),
    ('Explain the word "quote".', "", 'A "quote" repeats someone\'s words; write it as ""...""?'),
    ("Sum the numbers", "1,2,3", "6"),
    ("Résumé in one line", "Ünïcödé ✓ — 日本語", "Short, sweet."),
    ("Trailing spaces  ", "  leading", " both "),
    ("Line\r\nbreaks", "a\rb", "c\nd"),
]


def main():
    os.makedirs(HERE, exist_ok=True)
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["instruction", "input", "output"])
    for row in ROWS:
        w.writerow(row)
    text = buf.getvalue()
    with open(os.path.join(HERE, "alpaca.csv"), "w", encoding="utf-8", newline="") as f:
        f.write(text)
    with open(os.path.join(HERE, "alpaca.csv"), encoding="utf-8", newline="") as f:
        read = [dict(r) for r in csv.DictReader(f)]
    with open(os.path.join(HERE, "alpaca.csv.json"), "w", encoding="utf-8") as f:
        json.dump(read, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote alpaca.csv (%d rows) and alpaca.csv.json" % len(read))


if __name__ == "__main__":
    main()
