#!/usr/bin/env python3
"""Converts Tempo's TraceQL parser corpus (test_examples.yaml) to test_examples.json, which
the Rust test `traceql_corpus` reads (the query crate has no YAML parser, on purpose).

Usage, from this folder:  python3 convert.py
Needs PyYAML (`pip install pyyaml`). The output keeps each category's queries in file order.
"""

import json
import pathlib
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent
CATEGORIES = ["valid", "parse_fails", "validate_fails", "unsupported"]


def main() -> int:
    doc = yaml.safe_load((HERE / "test_examples.yaml").read_text(encoding="utf-8"))
    out = {}
    for cat in CATEGORIES:
        items = doc.get(cat) or []
        if not all(isinstance(q, str) for q in items):
            print(f"{cat}: every entry must be a string", file=sys.stderr)
            return 1
        out[cat] = items
    text = json.dumps(out, indent=1, ensure_ascii=False) + "\n"
    (HERE / "test_examples.json").write_text(text, encoding="utf-8")
    counts = ", ".join(f"{c} {len(out[c])}" for c in CATEGORIES)
    print(f"wrote test_examples.json: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
