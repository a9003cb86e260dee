"""The REPL wire protocol against every recorded transcript (Lean v4.9, v4.15, v4.33 and Kimina)."""
from __future__ import annotations

import json

import pytest

from lean_testkit import KIMINA, TRANSCRIPTS, VERSIONS, files, ids, needs_transcripts
from prover.lean.protocol import (CommandResponse, ProtocolError, ReplError, ResponseFramer, TacticResponse,
                                  encode_command, parse_block, parse_kimina_output, parse_response,
                                  split_requests, split_responses)

OUTPUTS = files("*.expected.out")
INPUTS = files("*.in")
KIMINA_OUTPUTS = sorted((KIMINA / "output").glob("*.json")) if KIMINA.is_dir() else []


@needs_transcripts
def test_every_version_and_the_kimina_fixtures_are_present():
    # Guards against a moved folder making the parametrized tests below silently empty.
    for version in VERSIONS:
        assert any(p.is_relative_to(TRANSCRIPTS / version) for p in OUTPUTS), version
        assert any(p.is_relative_to(TRANSCRIPTS / version / "test" / "Mathlib") for p in OUTPUTS), version
    assert len(OUTPUTS) >= 170 and len(INPUTS) >= 180 and len(KIMINA_OUTPUTS) == 22


@needs_transcripts
@pytest.mark.parametrize("path", OUTPUTS, ids=ids(OUTPUTS))
def test_every_expected_output_parses(path):
    text = path.read_text(encoding="utf-8")
    objects = split_responses(text)
    assert objects, "no response blocks"
    # As many objects as the raw text has top-level blocks: nothing merged or dropped.
    assert len(objects) == len([b for b in text.split("\n\n") if b.strip()])
    for obj in objects:
        response = parse_response(obj)
        assert isinstance(response, (CommandResponse, TacticResponse, ReplError))
        if isinstance(response, CommandResponse):
            assert isinstance(response.env, int)
            assert len(response.messages) == len(obj.get("messages", []))
            assert len(response.sorries) == len(obj.get("sorries", []))
        if isinstance(response, TacticResponse):
            assert response.goals == tuple(obj["goals"])


@needs_transcripts
def test_all_recorded_blocks_parse_in_total():
    # The transcripts README counts 505 output blocks in these files.
    assert sum(len(split_responses(p.read_text(encoding="utf-8"))) for p in OUTPUTS) == 505


@needs_transcripts
@pytest.mark.parametrize("path", INPUTS, ids=ids(INPUTS))
def test_every_input_splits_into_requests(path):
    requests = split_requests(path.read_text(encoding="utf-8"))
    assert requests
    for request in requests:
        assert {"cmd", "tactic", "path", "pickleTo", "unpickleEnvFrom", "unpickleProofStateFrom"} & set(request)


@needs_transcripts
def test_raw_newlines_in_requests_vanish_as_in_the_repl():
    requests = split_requests((TRANSCRIPTS / "v4.33.0-rc2/test/invalid_line_break.in").read_text(encoding="utf-8"))
    assert [r["cmd"] for r in requests] == ["theorem foo : 1 = 1 := bysorry", "theorem bar : 1 = 1 := byrfl"]
    escaped = split_requests((TRANSCRIPTS / "v4.33.0-rc2/test/line_breaks.in").read_text(encoding="utf-8"))
    assert escaped[0]["cmd"] == "theorem foo : 1 = 1 := by\nsorry"


@needs_transcripts
@pytest.mark.parametrize("path", KIMINA_OUTPUTS, ids=[p.name for p in KIMINA_OUTPUTS])
def test_kimina_outputs_parse_into_messages(path):
    raw = json.loads(path.read_text(encoding="utf-8"))
    (result,) = parse_kimina_output(raw)
    item = raw["results"][0]
    assert result.custom_id == item["custom_id"]
    if item["response"] is None:
        assert result.timed_out and result.response is None
    else:
        assert not result.timed_out
        assert len(result.response.messages) == len(item["response"].get("messages", []))
        for message, original in zip(result.response.messages, item["response"].get("messages", [])):
            assert message.severity == original["severity"] and message.data == original["data"]
            assert message.pos.line == original["pos"]["line"]


@needs_transcripts
def test_sorry_warning_and_unknown_identifier_in_both_spellings():
    def messages(relative):
        out = []
        for obj in split_responses((TRANSCRIPTS / relative).read_text(encoding="utf-8")):
            response = parse_response(obj)
            out.extend(getattr(response, "messages", ()))
        return out

    old = messages("v4.9.0/test/readme.expected.out")
    new = messages("v4.33.0-rc2/test/readme.expected.out")
    assert "declaration uses 'sorry'" in old[0].data and old[0].is_sorry_warning
    assert "declaration uses `sorry`" in new[0].data and new[0].is_sorry_warning
    assert [m.unknown_identifier for m in messages("v4.9.0/test/invalid_tactic.expected.out")
            if m.is_error] == ["my_fake_premise"]
    assert [m.unknown_identifier for m in messages("v4.33.0-rc2/test/invalid_line_break.expected.out")] \
        == ["bysorry", "byrfl"]


def test_encoded_command_is_one_line_and_round_trips():
    cmd = 'theorem t : 1 = 1 := by\n  -- a "comment" with ⊢ and \\ and a tab\t\n  rfl'
    wire = encode_command(cmd, env=3)
    first, rest = wire.split("\n", 1)
    assert rest == "\n"  # exactly one line, then the blank line
    assert split_requests(wire) == [{"cmd": cmd, "env": 3}]
    assert split_requests(encode_command("def x := 1")) == [{"cmd": "def x := 1"}]


def test_framer_reassembles_responses_split_anywhere():
    text = '{"messages":\n [{"severity": "info", "pos": {"line": 1, "column": 0},\n   "endPos": null,\n' \
           '   "data": "⊢ α → β"}],\n "env": 4}\n\n{"env": 5}\n\n'
    data = text.encode("utf-8")
    whole = ResponseFramer().feed(data)
    for size in (1, 2, 3, 7):
        framer = ResponseFramer()
        pieces = []
        for start in range(0, len(data), size):  # cuts inside multi-byte characters too
            pieces.extend(framer.feed(data[start:start + size]))
        assert pieces == whole
        assert not framer.pending()
    assert [parse_response(parse_block(b)).env for b in whole] == [4, 5]


def test_out_of_protocol_output_is_an_error_naming_what_is_wrong():
    with pytest.raises(ProtocolError, match="not JSON"):
        parse_block("PANIC at Lean.Elab: unreachable")
    with pytest.raises(ProtocolError, match="not an object"):
        parse_block("[1, 2]")
    with pytest.raises(ProtocolError, match="messages\\[0\\].data"):
        parse_response({"env": 1, "messages": [{"severity": "error", "data": 3}]})
    with pytest.raises(ProtocolError, match="'env'"):
        parse_response({"env": "1"})
    with pytest.raises(ProtocolError, match="UTF-8"):
        ResponseFramer().feed(b'{"env": \xff}\n\n')
