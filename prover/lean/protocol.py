"""The Lean REPL wire protocol: how requests are written and how responses are read.

The community REPL (github.com/leanprover-community/repl) reads stdin line by
line until it meets a blank line, strips trailing whitespace from every line
and joins them with no separator, then parses the result as one JSON object.
So a request is one JSON object on one line (any newline inside a Lean string
is the escape ``\\n``, never a raw newline), followed by a blank line.

It answers each request with one pretty-printed JSON object that may span many
lines, followed by a blank line. JSON strings never contain a raw newline, so a
blank line always ends a response. The shapes seen from Lean v4.9 to v4.33:

* command: ``{"env": n, "messages"?: [...], "sorries"?: [...], "tactics"?, "infotree"?}``
* tactic:  ``{"proofState": n, "goals": [...], "messages"?, "sorries"?, "traces"?, "proofStatus"?}``
* error:   ``{"message": "Unknown environment."}`` (or ``"Lean error:\\n..."``)

Lists that would be empty are left out; a client must not depend on key order.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterator, Union

# Lean's String.trim strips exactly these; Python's str.strip() would also strip
# other Unicode spaces and so split requests where the REPL would not.
_LEAN_WHITESPACE = " \t\r\n"

SORRY_WARNING = re.compile(r"declaration uses ['`]sorry['`]")  # 'sorry' up to v4.27, `sorry` from v4.28
UNKNOWN_IDENTIFIER = re.compile(r"^[Uu]nknown identifier ['`](.+?)['`]", re.DOTALL)  # both spellings (v4.22 / v4.23)


class ProtocolError(ValueError):
    """Output that is not the REPL protocol: a non-JSON block, a non-object, a malformed field."""


# ---------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------

def encode_request(request: dict[str, Any]) -> str:
    """One request exactly as the REPL parses it: a single-line JSON object, then a blank line."""
    line = json.dumps(request, ensure_ascii=False)
    # json.dumps without indent never emits a raw newline: newlines in strings become "\n".
    assert "\n" not in line and "\r" not in line
    return line + "\n\n"


def encode_command(cmd: str, env: int | None = None) -> str:
    """A command request; with ``env`` it runs in that earlier environment (header reuse)."""
    request: dict[str, Any] = {"cmd": cmd}
    if env is not None:
        request["env"] = env
    return encode_request(request)


def split_requests(text: str) -> list[dict[str, Any]]:
    """Split a REPL input stream into requests the way the REPL itself does.

    Lines up to a blank line are right-stripped and joined with no separator
    (so a raw newline inside a JSON string silently disappears, as in the REPL);
    a block starting with ``#`` or ``--`` is a comment and is skipped.
    """
    requests = []
    for number, block in _blocks(text):
        if block.startswith("#") or block.startswith("--"):
            continue
        try:
            value = json.loads(block)
        except json.JSONDecodeError as err:
            raise ProtocolError(f"request starting on line {number}: not JSON ({err.msg})") from None
        if not isinstance(value, dict):
            raise ProtocolError(f"request starting on line {number}: not a JSON object")
        requests.append(value)
    return requests


def _blocks(text: str) -> Iterator[tuple[int, str]]:
    """Yield (first line number, block) for runs of non-blank lines, each line right-stripped
    and the lines joined with nothing in between, as the REPL's own reader does."""
    lines: list[str] = []
    start = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip(_LEAN_WHITESPACE) == "":
            if lines:
                yield start, "".join(lines)
                lines = []
            continue
        if not lines:
            start = number
        lines.append(line.rstrip(_LEAN_WHITESPACE))
    if lines:
        yield start, "".join(lines)


# ---------------------------------------------------------------------------------------------
# Responses: framing
# ---------------------------------------------------------------------------------------------

class ResponseFramer:
    """Cut a byte stream into response blocks (non-blank lines up to a blank line).

    Bytes are buffered until a whole block has arrived, so a response split
    across many reads is reassembled, and a partial line is never parsed.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._lines: list[bytes] = []

    def feed(self, data: bytes) -> list[str]:
        """Add bytes; return every block completed by them, decoded as UTF-8."""
        self._buffer += data
        blocks = []
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                break
            line, self._buffer = self._buffer[:newline], self._buffer[newline + 1:]
            if line.strip(b" \t\r") == b"":
                if self._lines:
                    blocks.append(self._decode(b"\n".join(self._lines)))
                    self._lines = []
            else:
                self._lines.append(line)
        return blocks

    def pending(self) -> bool:
        """True if bytes of an unfinished block are buffered (output we did not ask for yet)."""
        return bool(self._lines) or self._buffer.strip() != b""

    @staticmethod
    def _decode(block: bytes) -> str:
        try:
            return block.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ProtocolError(f"response is not UTF-8: {err}") from None


def parse_block(block: str) -> dict[str, Any]:
    """Parse one response block as a JSON object."""
    try:
        value = json.loads(block)
    except json.JSONDecodeError as err:
        preview = block[:120].replace("\n", "\\n")
        raise ProtocolError(f"REPL output is not JSON ({err.msg}): {preview!r}") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"REPL output is JSON but not an object: {type(value).__name__}")
    return value


def split_responses(text: str) -> list[dict[str, Any]]:
    """Parse a whole recorded output stream (e.g. a ``*.expected.out`` file)."""
    framer = ResponseFramer()
    blocks = framer.feed(text.encode("utf-8") + b"\n\n")
    return [parse_block(b) for b in blocks]


# ---------------------------------------------------------------------------------------------
# Responses: typed values
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Position:
    line: int
    column: int


@dataclass(frozen=True)
class Message:
    severity: str  # "error" | "warning" | "info"
    data: str
    pos: Position | None = None
    end_pos: Position | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def is_sorry_warning(self) -> bool:
        return SORRY_WARNING.search(self.data) is not None

    @property
    def unknown_identifier(self) -> str | None:
        """The name in an unknown-identifier error, in either spelling; else None."""
        match = UNKNOWN_IDENTIFIER.match(self.data)
        return match.group(1) if match else None

    def render(self) -> str:
        where = f"{self.pos.line}:{self.pos.column}: " if self.pos else ""
        return f"{self.severity}: {where}{self.data}"


@dataclass(frozen=True)
class Sorry:
    goal: str
    proof_state: int | None = None
    pos: Position | None = None


@dataclass(frozen=True)
class CommandResponse:
    env: int | None  # None only in recorded outputs of servers that drop environments (Kimina)
    messages: tuple[Message, ...] = ()
    sorries: tuple[Sorry, ...] = ()
    raw: dict[str, Any] | None = None

    @property
    def errors(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.is_error)


@dataclass(frozen=True)
class TacticResponse:
    proof_state: int
    goals: tuple[str, ...]
    messages: tuple[Message, ...] = ()
    sorries: tuple[Sorry, ...] = ()
    proof_status: str | None = None  # from v4.19: "Completed", "Incomplete: ...", "Error: ..."
    raw: dict[str, Any] | None = None


@dataclass(frozen=True)
class ReplError:
    """The REPL refused the request: unknown environment/proof state, or a Lean exception."""
    message: str


ReplResponse = Union[CommandResponse, TacticResponse, ReplError]

_SEVERITIES = {"error": "error", "warning": "warning", "info": "info", "information": "info"}


def parse_response(obj: dict[str, Any]) -> ReplResponse:
    """Turn one parsed response object into a typed value; ProtocolError names the bad field."""
    if "proofState" in obj:
        return TacticResponse(
            proof_state=_int(obj, "proofState"),
            goals=tuple(_str(g, "goals[]") for g in _list(obj, "goals")),
            messages=_messages(obj), sorries=_sorries(obj),
            proof_status=_optional_str(obj, "proofStatus"), raw=obj)
    if "message" in obj and "env" not in obj:
        return ReplError(message=_str(obj["message"], "message"))
    env = obj.get("env")
    if env is not None and (not isinstance(env, int) or isinstance(env, bool)):
        raise ProtocolError(f"field 'env' is not an integer: {env!r}")
    return CommandResponse(env=env, messages=_messages(obj), sorries=_sorries(obj), raw=obj)


def _messages(obj: dict[str, Any]) -> tuple[Message, ...]:
    out = []
    for i, item in enumerate(_list(obj, "messages")):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise ProtocolError(f"{where} is not an object")
        severity = _str(item.get("severity"), f"{where}.severity").lower()
        out.append(Message(severity=_SEVERITIES.get(severity, severity),
                           data=_str(item.get("data"), f"{where}.data"),
                           pos=_position(item.get("pos"), f"{where}.pos"),
                           end_pos=_position(item.get("endPos"), f"{where}.endPos")))
    return tuple(out)


def _sorries(obj: dict[str, Any]) -> tuple[Sorry, ...]:
    out = []
    for i, item in enumerate(_list(obj, "sorries")):
        where = f"sorries[{i}]"
        if not isinstance(item, dict):
            raise ProtocolError(f"{where} is not an object")
        state = item.get("proofState")
        out.append(Sorry(goal=_str(item.get("goal", ""), f"{where}.goal"),
                         proof_state=state if isinstance(state, int) else None,
                         pos=_position(item.get("pos"), f"{where}.pos")))
    return tuple(out)


def _position(value: Any, where: str) -> Position | None:
    if value is None:  # endPos is null for "unexpected end of input" errors
        return None
    if not isinstance(value, dict):
        raise ProtocolError(f"{where} is not an object")
    return Position(line=_int(value, "line", where), column=_int(value, "column", where))


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProtocolError(f"field {key!r} is not a list")
    return value


def _int(obj: dict[str, Any], key: str, where: str = "") -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"field {where + '.' if where else ''}{key!r} is not an integer: {value!r}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ProtocolError(f"field {where!r} is not a string: {value!r}")
    return value


def _optional_str(obj: dict[str, Any], key: str) -> str | None:
    return None if obj.get(key) is None else _str(obj[key], key)


# ---------------------------------------------------------------------------------------------
# Recorded outputs of Kimina Lean Server's /verify API (used as test fixtures)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KiminaResult:
    custom_id: str
    error: str | None  # e.g. "Lean process timed out"
    response: CommandResponse | None
    seconds: float | None

    @property
    def timed_out(self) -> bool:
        return self.error is not None and "timed out" in self.error.lower()


def parse_kimina_output(obj: dict[str, Any]) -> list[KiminaResult]:
    """``{"results": [{"custom_id", "error", "response": {...REPL fields, "time"} | null}]}``."""
    results = []
    for i, item in enumerate(_list(obj, "results")):
        if not isinstance(item, dict):
            raise ProtocolError(f"results[{i}] is not an object")
        raw = item.get("response")
        response = None
        seconds = None
        if raw is not None:
            parsed = parse_response(raw)
            if not isinstance(parsed, CommandResponse):
                raise ProtocolError(f"results[{i}].response is not a command response")
            response = parsed
            seconds = raw.get("time")
        error = item.get("error")
        results.append(KiminaResult(custom_id=_str(item.get("custom_id"), f"results[{i}].custom_id"),
                                    error=None if error is None else _str(error, f"results[{i}].error"),
                                    response=response, seconds=seconds))
    return results
