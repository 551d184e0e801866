#!/usr/bin/env python3
"""Fails on any function body longer than MAX_LINES lines in the tracked .cpp files.

A brace-matching scan over the code with comments, strings and preprocessor
lines blanked out. A body's length is the number of lines strictly between its
braces. A `// data table` comment on the line before a function exempts it.
Prints `file:line name length` for each long function.

  check_function_length.py [ROOT]     check the tree at ROOT (default: this repository)
  check_function_length.py --self-test
"""
import os
import re
import subprocess
import sys
import tempfile

MAX_LINES = 80
MARKER = "// data table"
_CONTROL = {"if", "for", "while", "switch", "catch", "return", "sizeof", "decltype"}
_SCOPE = {"namespace", "class", "struct", "union", "enum", "extern"}
_QUALIFIERS = {"const", "override", "final", "noexcept", "mutable", "try", "volatile"}
_TOKEN = re.compile(r'//[^\n]*|/\*.*?\*/|R"(\w*)\(.*?\)\1"|"(?:\\.|[^"\\\n])*"|'
                    r"'(?:\\.|[^'\\\n])*'|^[ \t]*#(?:\\\n|[^\n])*", re.S | re.M)


def blank(source):
    """The source with comments, literals and directives replaced by spaces (lines kept)."""
    return _TOKEN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), source)


def matching(code, start, open_ch, close_ch):
    """Index of the bracket closing the one at START."""
    depth = 0
    for i in range(start, len(code)):
        if code[i] == open_ch:
            depth += 1
        elif code[i] == close_ch:
            depth -= 1
            if depth == 0:
                return i
    return len(code) - 1


def strip_parens(header):
    """HEADER without the contents of its top-level parentheses."""
    out, depth = [], 0
    for ch in header:
        depth += ch == "("
        if depth == 0:
            out.append(ch)
        depth -= ch == ")" and depth > 0
    return "".join(out)


def function_name(header):
    """The identifier before the first top-level '(' of a function header."""
    m = re.search(r"((?:[A-Za-z_~]\w*::)*(?:operator\s*[^\s(]+|~?[A-Za-z_]\w*))\s*\(", header)
    return m.group(1) if m else "<lambda>"


def classify(header):
    """'scope', 'function' or 'init' for the '{' that follows HEADER."""
    flat = strip_parens(header)
    words = re.findall(r"[A-Za-z_]\w*", flat)
    if any(w in _SCOPE for w in words) and "(" not in header.split("=")[0][-1:]:
        if not re.search(r"\)\s*$", header):
            return "scope"
    tail = header.rstrip()
    if not tail or "(" not in header:
        return "init"
    last = tail[-1]
    if last == ")" or (last == "}" and re.search(r"\)\s*:", header)):
        before = re.search(r"([A-Za-z_]\w*|\])\s*\($", strip_parens(header).rstrip()[:-2] + "(")
        word = before.group(1) if before else ""
        return "init" if word in _CONTROL else "function"
    last_word = re.search(r"([A-Za-z_]\w*)\s*$", tail)
    if last_word and last_word.group(1) in _QUALIFIERS:
        return "function"
    if "->" in flat.rsplit(")", 1)[-1] or re.search(r"\)\s*->", header):
        return "function"
    return "init"


def scan(code):
    """Yields (header_start, open_index, close_index, name) for each function body."""
    i, header_start = 0, 0
    while i < len(code):
        ch = code[i]
        if ch in ";}":
            header_start = i + 1
        elif ch == "{":
            header = code[header_start:i]
            kind = classify(header)
            if kind == "scope":
                header_start = i + 1
            else:
                close = matching(code, i, "{", "}")
                if kind == "function":
                    start = header_start + len(header) - len(header.lstrip())
                    yield start, i, close, function_name(header)
                    header_start = close + 1
                i = close
        i += 1


def long_functions(path, source):
    code, lines = blank(source), source.split("\n")
    found = []
    for start, open_i, close_i, name in scan(code):
        first = code.count("\n", 0, start)
        length = code.count("\n", open_i, close_i) - 1
        exempt = first > 0 and lines[first - 1].strip() == MARKER
        if length > MAX_LINES and not exempt:
            found.append(f"{path}:{first + 1} {name} {length}")
    return found


def tracked_cpp(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "*.cpp"], capture_output=True,
                             text=True, check=True).stdout
        if out.strip():
            return sorted(out.split())
    except (OSError, subprocess.CalledProcessError):
        pass
    return sorted(os.path.relpath(os.path.join(b, f), root).replace(os.sep, "/")
                  for b, d, fs in os.walk(root) for f in fs if f.endswith(".cpp"))


def check(root):
    found = []
    for path in tracked_cpp(root):
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            found += long_functions(path, f.read())
    return found


def self_test():
    body = "".join(f"  x += {n};\n" for n in range(MAX_LINES + 1))
    ok = "".join(f"  x += {n};\n" for n in range(MAX_LINES - 3))  # g is exactly MAX_LINES
    source = (
        "namespace a {\nstruct S {\n  int f() const {\n" + body + "  }\n};\n"
        "Foo::Foo(int v) : x_{v}, y_(v) {\n" + body + "}\n"
        "int g() {\n  if (x) {\n  }\n  const char* s = \"{\";\n" + ok + "}\n"
        "// data table\nint h() {\n" + body + "}\n"
        "int k[] = {1, 2};\nTEST_CASE(\"t\") {\n" + body + "}\n}  // namespace a\n")
    got = long_functions("t.cpp", source)
    names = [g.split(" ")[1] for g in got]
    if names != ["f", "Foo::Foo", "TEST_CASE"] or not got[0].startswith("t.cpp:3 "):
        print(f"self-test failed: {got}")
        return 1
    print("check_function_length self-test: ok")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    found = check(os.path.abspath(root))
    for f in found:
        print(f)
    if found:
        print(f"check_function_length: {len(found)} function(s) over {MAX_LINES} lines")
        return 1
    print(f"check_function_length: no function over {MAX_LINES} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
