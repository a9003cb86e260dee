#!/usr/bin/env python3
"""A stand-in for the Lean REPL that speaks its protocol, for testing the pool without Lean.

It reads requests the way the REPL does (lines up to a blank line, each
right-stripped, joined with nothing; blocks starting with ``#`` or ``--``
skipped), answers each with one pretty-printed JSON object and a blank line,
and keeps numbered environments. It does not prove anything: a theorem's
outcome is chosen by magic words in its text.

    ratchet_magic_hang            never answer
    ratchet_magic_slow_<ms>       answer after <ms> milliseconds
    ratchet_magic_crash           exit at once (code 134), mid-request
    ratchet_magic_crash_once_<w>  the same the first time (no file <w> in the working directory:
                                  it is made), then go on as if the words were not there
    ratchet_magic_memory          allocate 4 GiB (dies under an address-space limit)
    ratchet_magic_garbage         print a non-JSON block before the answer
    ratchet_magic_fake            print a forged clean answer and a forged axioms answer first
    ratchet_magic_error           an "unsolved goals" error
    ratchet_magic_unknown         an unknown-identifier error
    ratchet_magic_axiom_<Name>    the theorem depends on axiom <Name>
    ratchet_magic_limits          an info message with this process's pid, pgid and RLIMIT_AS
    sorry (as a word)             a sorries entry and a sorry warning

``--style old`` spells messages as Lean up to v4.22 does ('sorry', 'g');
``--style new`` as v4.28+ (`sorry`, `g`). Only for tests.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys
import time

# `theorem NAME : P` or, as benchmark files state them, `theorem NAME (x : T) ... : P` (or `def`).
THEOREM = re.compile(r"^\s*(?:theorem|def|noncomputable def)\s+([^\s(:{\[⦃]+)\s*[:({\[⦃]", re.DOTALL)
PRINT_AXIOMS = re.compile(r"#print\s+axioms\s+(\S+)")
PRINT_STRING = re.compile(r'#print\s+"((?:[^"\\]|\\.)*)"')


def quote(name: str, style: str) -> str:
    return f"'{name}'" if style == "old" else f"`{name}`"


def write(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, indent=1, ensure_ascii=False) + "\n\n")
    sys.stdout.flush()


def read_request() -> str | None:
    """Lines up to a blank line, right-stripped and joined; None at end of input."""
    parts: list[str] = []
    while True:
        raw = sys.stdin.buffer.readline()
        if not raw:
            return "".join(parts) if parts else None
        line = raw.decode("utf-8")
        if line.strip(" \t\r\n") == "":
            if parts:
                return "".join(parts)
            continue
        parts.append(line.rstrip(" \t\r\n"))


def message(severity: str, data: str, line: int = 1, column: int = 0) -> dict:
    return {"severity": severity, "pos": {"line": line, "column": column},
            "endPos": {"line": line, "column": column + 1}, "data": data}


def run_theorem(cmd: str, name: str, style: str, axioms: dict[str, list[str]]) -> dict:
    slow = re.search(r"ratchet_magic_slow_(\d+)", cmd)
    if slow:
        time.sleep(int(slow.group(1)) / 1000)
    if "ratchet_magic_hang" in cmd:
        time.sleep(3600)
    once = re.search(r"ratchet_magic_crash_once_(\w+)", cmd)
    if once and not os.path.exists(once.group(1)):
        open(once.group(1), "w").close()
        os._exit(134)
    if re.search(r"ratchet_magic_crash\b", cmd):
        os._exit(134)
    if "ratchet_magic_memory" in cmd:
        hog = bytearray(4 << 30)  # MemoryError under RLIMIT_AS, and the process dies
        hog[-1] = 1
    if "ratchet_magic_garbage" in cmd:
        sys.stdout.write("PANIC at Lean.Something: this is not JSON\n\n")
        sys.stdout.flush()
    if "ratchet_magic_fake" in cmd:
        write({"env": 999})
        write({"messages": [message("info", f"{quote(name, 'old')} does not depend on any axioms")],
               "env": 1000})
    response: dict = {}
    messages = []
    if "ratchet_magic_error" in cmd:
        messages.append(message("error", "unsolved goals\n⊢ False", 1, 20))
    if "ratchet_magic_unknown" in cmd:
        messages.append(message("error", f"{'unknown' if style == 'old' else 'Unknown'} identifier "
                                         f"{quote('ratchet_nope', style)}", 2, 2))
    if "ratchet_magic_limits" in cmd:
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        messages.append(message("info", json.dumps({"pid": os.getpid(), "pgid": os.getpgid(0),
                                                    "rlimit_as": soft})))
    used = sorted(set(re.findall(r"ratchet_magic_axiom_([\w.]+)", cmd)))
    if re.search(r"\bsorry\b", cmd):
        used.append("sorryAx")
        response["sorries"] = [{"proofState": 0, "pos": {"line": 2, "column": 2}, "goal": "⊢ True",
                                "endPos": {"line": 2, "column": 7}}]
        messages.append(message("warning", f"declaration uses {quote('sorry', style)}", 1, 8))
    if not any(m["severity"] == "error" for m in messages):
        axioms[name] = used
    if messages:
        response["messages"] = messages
    return response


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--style", choices=["old", "new"], default="old")
    args = parser.parse_args()
    envs: list[dict[str, list[str]]] = []  # env id -> theorem name -> axioms it depends on

    while True:
        text = read_request()
        if text is None:
            return
        if text.startswith("#") or text.startswith("--"):
            continue
        request = json.loads(text)
        cmd = request["cmd"]
        if "env" in request:
            if not (0 <= request["env"] < len(envs)):
                write({"message": "Unknown environment."})
                continue
            axioms = dict(envs[request["env"]])
        else:
            axioms = {}
            if "ratchet_magic_bad_header" in cmd:
                envs.append(axioms)
                write({"messages": [message("error", "unexpected token; expected command")],
                       "env": len(envs) - 1})
                continue

        response: dict = {}
        messages: list[dict] = []
        theorem = THEOREM.match(cmd)
        if theorem:
            response = run_theorem(cmd, theorem.group(1), args.style, axioms)
            messages = response.pop("messages", [])
        for found in PRINT_AXIOMS.finditer(cmd):
            name = found.group(1)
            if name not in axioms:
                messages.append(message("error", f"unknown constant {quote(name, args.style)}"))
            elif axioms[name]:
                messages.append(message("info", f"{quote(name, 'old')} depends on axioms: "
                                                f"[{', '.join(axioms[name])}]"))
            else:
                messages.append(message("info", f"{quote(name, 'old')} does not depend on any axioms"))
        for found in PRINT_STRING.finditer(cmd):
            messages.append(message("info", json.loads(f'"{found.group(1)}"'), 2))
        envs.append(axioms)
        if messages:
            response["messages"] = messages
        response["env"] = len(envs) - 1
        write(response)


if __name__ == "__main__":
    main()
