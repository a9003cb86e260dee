"""Prompt formats, in one place: what the model sees, and what it is trained to write.

A format turns a theorem (a `PromptInput`) into the prompt text, and a verified proof body
into the supervised target that follows that prompt, so that what is trained is exactly
what is sampled. `prover.extraction` does the reverse: completion -> proof body.

Formats (``model.prompt``):

* ``ratchet`` -- Ratchet's own ``Theorem: <statement>\\nProof: `` with the bare body as the
  completion. The default, and byte-identical to what the loop has always used.
* ``deepseek-prover`` -- the DeepSeek-Prover-V1.5 non-CoT code-completion prompt:
  ``"Complete the following Lean 4 code:\\n\\n```lean4\\n"`` + header + informal prefix
  (empty when absent) + formal statement. The completion continues inside that open code
  block and ends at its closing fence. (For Coq the same shape with ``Coq``/```` ```coq ````;
  that variant is Ratchet's own, there is no published Coq model in this format.)
* ``chat`` -- the tokenizer's own chat template (``apply_chat_template`` with
  ``add_generation_prompt``) around ``model.instruction`` and the statement in a code block,
  the way Goedel-Prover-V2, Kimina-Prover and DeepSeek-Prover-V2 are prompted. The answer is
  expected to hold the theorem and its proof in a code block.
* ``template`` -- the user's Jinja2 file (``model.template_file``), rendered with the fields
  of `PromptInput`. If the rendered prompt leaves a code fence open, the completion is read
  as its continuation (like ``deepseek-prover``), otherwise as an answer (like ``chat``).

Token ids: ``ratchet``, ``deepseek-prover`` and ``template`` prompts get the tokenizer's BOS
in front (as ``prover.model.encode_prompt`` always did); a ``chat`` prompt is tokenized as the
template wrote it, because chat templates put in their own special tokens.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

FORMATS = ("ratchet", "deepseek-prover", "chat", "template")
DEFAULT_INSTRUCTION = ("Complete the following {language} code. Write the whole theorem with its proof "
                       "in one ```{fence} code block.")
Mode = Literal["bare", "continue", "answer"]  # how a completion relates to its prompt (see completion_mode)


@dataclass(frozen=True)
class PromptInput:
    """Everything a format may show about one theorem.

    ``statement`` is the bare proposition (what the verifier puts after ``theorem name :``);
    ``formal_statement`` is the source's full declaration (Lean ``theorem name binders : type :=``,
    with or without a trailing ``by``; Coq ``Theorem name : stmt.``); ``header`` is the
    theorem's own header text (imports, options, opens, definitions).
    """
    backend: str  # "lean" | "coq"
    name: str
    statement: str
    header: str
    formal_statement: str
    informal_prefix: str = ""
    informal_in_ratchet: bool = False  # the ratchet format shows the informal prefix too (a source's option)


@dataclass(frozen=True)
class PromptFormat:
    kind: str = "ratchet"
    instruction: str = DEFAULT_INSTRUCTION
    template_file: str | None = None
    stop: tuple[str, ...] = ()  # completion is cut at the first of these (after the reasoning block)
    reasoning_start: str = "<think>"
    reasoning_end: str = "</think>"

    def __post_init__(self) -> None:
        if self.kind not in FORMATS:
            raise ValueError(f"model.prompt: {self.kind!r} is not one of {', '.join(FORMATS)}")
        if self.kind == "template" and not self.template_file:
            raise ValueError("model.prompt: template needs model.template_file (a Jinja2 file)")

    @classmethod
    def from_config(cls, model_cfg) -> "PromptFormat":
        """From the ``model`` section of the run config (read by attribute: prover does not import loop)."""
        return cls(kind=model_cfg.prompt, instruction=model_cfg.instruction, template_file=model_cfg.template_file,
                   stop=tuple(model_cfg.stop), reasoning_start=model_cfg.reasoning_start,
                   reasoning_end=model_cfg.reasoning_end)


# ---------------------------------------------------------------------------
# Theorems of the built-in families as prompt inputs
# ---------------------------------------------------------------------------

def declaration(backend: str, name: str, statement: str) -> str:
    """The declaration line the verifier composes for a bare statement (Lean with ``:= by``)."""
    if backend == "lean":
        return f"theorem {name} : {statement} := by"
    if backend == "coq":
        return f"Theorem {name} : {statement}."
    raise ValueError(f"backend must be coq or lean, got {backend!r}")


def family_input(theorem, backend: str) -> PromptInput:
    """A generated theorem (prover.theorems.Theorem) with the framework's default header."""
    from prover.theorems.headers import COQ_HEADER, LEAN_HEADER

    statement = theorem.statement(backend)
    return PromptInput(backend=backend, name=theorem.name, statement=statement,
                       header=LEAN_HEADER if backend == "lean" else COQ_HEADER,
                       formal_statement=declaration(backend, theorem.name, statement) + "\n")


def theorem_input(theorem, backend: str) -> PromptInput:
    """Any theorem of a run: a generated one (family_input), or a source theorem (prover.theorems.sources),
    which brings its own header or library context, its informal prefix and the file's declaration."""
    if not hasattr(theorem, "header_for"):
        return family_input(theorem, backend)
    from prover.theorems.headers import COQ_HEADER, LEAN_HEADER

    statement = theorem.statement(backend)
    header = theorem.header_for(backend)
    if header is None:
        header = LEAN_HEADER if backend == "lean" else COQ_HEADER
    formal = theorem.formal_statement
    if not formal:
        if backend == "lean" and theorem.lean_signature:
            formal = f"{theorem.keyword} {theorem.name} {statement} := by\n"
        else:
            formal = declaration(backend, theorem.name, statement) + "\n"
    return PromptInput(backend=backend, name=theorem.name, statement=statement, header=header,
                       formal_statement=formal, informal_prefix=theorem.informal_prefix,
                       informal_in_ratchet=theorem.informal_in_prompt)


def checked_text(inp: PromptInput, body: str) -> str:
    """The text the prover checks for this body: header + declaration + body, composed as the verifiers do.

    With a bare ``statement`` this is the verifiers' own composition (prover.lean.admission.compose_theorem;
    the Coq workers' ``Theorem name : statement.`` / ``Proof.`` / body / ``Qed.``). A source theorem known
    only by its declaration (binders before the colon, ``statement`` empty) gets the declaration itself.
    """
    header = inp.header.rstrip("\n") + "\n\n" if inp.header.strip() else ""
    if inp.backend == "lean":
        if not inp.statement.strip():
            return header + f"{_lean_declaration(inp.formal_statement)}\n{_indent(body)}\n"
        from prover.lean.admission import compose_theorem
        return header + compose_theorem(inp.name, inp.statement, body) + "\n"
    decl = inp.formal_statement.strip() if not inp.statement.strip() else f"Theorem {inp.name} : {inp.statement}."
    return header + f"{decl}\nProof.\n{body}\nQed.\n"


# ---------------------------------------------------------------------------
# Rendering prompts and targets
# ---------------------------------------------------------------------------

def _language(backend: str) -> tuple[str, str]:
    """(language name, code fence tag)."""
    return ("Lean 4", "lean4") if backend == "lean" else ("Coq", "coq")


def _code(inp: PromptInput) -> str:
    """Header, informal prefix and formal statement, exactly concatenated (no separator added)."""
    return inp.header + (inp.informal_prefix or "") + inp.formal_statement


def deepseek_prompt(inp: PromptInput) -> str:
    language, fence = _language(inp.backend)
    return f"Complete the following {language} code:\n\n```{fence}\n" + _code(inp)


def _chat_user_message(fmt: PromptFormat, inp: PromptInput) -> str:
    language, fence = _language(inp.backend)
    instruction = fmt.instruction.replace("{language}", language).replace("{fence}", fence)
    return f"{instruction}\n\n```{fence}\n{_code(inp).rstrip()}\n```"


def _template_prompt(fmt: PromptFormat, inp: PromptInput) -> str:
    import jinja2

    path = Path(fmt.template_file or "")
    if not path.is_file():
        raise FileNotFoundError(f"model.template_file: {path} not found")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    try:
        template = env.from_string(path.read_text(encoding="utf-8"))
        return template.render(backend=inp.backend, name=inp.name, statement=inp.statement, header=inp.header,
                               formal_statement=inp.formal_statement, informal_prefix=inp.informal_prefix or "")
    except jinja2.TemplateError as e:
        line = getattr(e, "lineno", None)
        raise ValueError(f"model.template_file {path}{f' line {line}' if line else ''}: {e}") from None


def _opens_fence(text: str) -> bool:
    """Whether a code fence is left open at the end of `text` (an odd number of ``` fence lines)."""
    return sum(1 for line in text.split("\n") if line.lstrip().startswith("```")) % 2 == 1


def _lean_declaration(formal_statement: str) -> str:
    """The declaration with ``:= by`` at its end, whether the source wrote it or not."""
    decl = formal_statement.rstrip()
    if decl.endswith(":= by") or decl.endswith(":=by"):
        return decl
    return decl + (" by" if decl.endswith(":=") else " := by")


def _indent(body: str) -> str:
    lines = textwrap.dedent(body.strip("\n")).split("\n")
    return "\n".join(("  " + line) if line.strip() else "" for line in lines)


class Prompter:
    """One prompt format bound to one tokenizer: prompts, training examples, token ids.

    The tokenizer is needed for ``chat`` (its template) and for token ids; rendering text in
    the other formats does not use it.
    """

    def __init__(self, fmt: PromptFormat, tokenizer=None):
        self.fmt = fmt
        self.tokenizer = tokenizer
        if fmt.kind == "chat":
            if tokenizer is None:
                raise ValueError("model.prompt: chat needs the model's tokenizer")
            if not getattr(tokenizer, "chat_template", None):
                raise ValueError("model.prompt: chat, but the model's tokenizer has no chat template "
                                 "(tokenizer_config.json / chat_template.jinja); use deepseek-prover or template")

    # -- text ---------------------------------------------------------------------------------
    def prompt(self, inp: PromptInput) -> str:
        kind = self.fmt.kind
        if kind == "ratchet":
            from prover.model import format_prompt
            if inp.informal_in_ratchet and inp.informal_prefix.strip():
                return format_prompt(f"{inp.informal_prefix.strip()}\n{inp.statement}")
            return format_prompt(inp.statement)
        if kind == "deepseek-prover":
            return deepseek_prompt(inp)
        if kind == "chat":
            messages = [{"role": "user", "content": _chat_user_message(self.fmt, inp)}]
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return _template_prompt(self.fmt, inp)

    def mode(self, prompt: str) -> Mode:
        """bare: the completion is the body (ratchet); continue: it continues the prompt's open code
        block; answer: the code is in a fenced block of its own, if any."""
        if self.fmt.kind == "ratchet":
            return "bare"
        if self.fmt.kind == "chat":
            return "answer"
        if self.fmt.kind == "deepseek-prover":
            return "continue"
        return "continue" if _opens_fence(prompt) else "answer"

    def target(self, inp: PromptInput, body: str, prompt: str | None = None) -> str:
        """What the model is trained to write after `prompt` for a verified `body` (EOS excluded).

        Never a reasoning trace: only the final artifact, in the shape the format's completions take.
        """
        prompt = self.prompt(inp) if prompt is None else prompt
        mode = self.mode(prompt)
        if mode == "bare":
            return body.strip()
        _, fence = _language(inp.backend)
        if inp.backend == "lean":
            proof = _indent(body)
            if mode == "continue":
                lead = "" if prompt.endswith("\n") else "\n"
                if not prompt.rstrip().endswith("by"):  # a formal statement without `:= by`: the model writes it
                    lead = (" by" if prompt.rstrip().endswith(":=") else " := by") + "\n"
                return f"{lead}{proof}\n```"
            answer = f"```{fence}\n{_lean_declaration(inp.formal_statement)}\n{proof}\n```"
        else:
            proof = f"Proof.\n{body.strip()}\nQed."
            if mode == "continue":
                return ("" if prompt.endswith("\n") else "\n") + f"{proof}\n```"
            answer = f"```{fence}\n{inp.formal_statement.strip()}\n{proof}\n```"
        if self.fmt.kind == "chat":
            return self._chat_answer(inp, prompt, answer)
        return answer

    def _chat_answer(self, inp: PromptInput, prompt: str, answer: str) -> str:
        """The assistant turn as the chat template writes it, up to and including its end token."""
        messages = [{"role": "user", "content": _chat_user_message(self.fmt, inp)},
                    {"role": "assistant", "content": answer}]
        full = self.tokenizer.apply_chat_template(messages, tokenize=False)
        if not full.startswith(prompt):
            raise ValueError("model.prompt: chat: the tokenizer's chat template does not render the conversation "
                             "with the answer as the prompt followed by the answer, so a training example cannot "
                             "be made that matches the sampled prompt; use model.prompt: template")
        turn = full[len(prompt):]
        eos = self.tokenizer.eos_token
        if eos and eos in turn:
            turn = turn[:turn.rindex(eos) + len(eos)]  # what follows the end token is never sampled
        return turn

    def example(self, inp: PromptInput, body: str) -> tuple[str, str]:
        """(prompt, target): the supervised example for a verified body, in this format."""
        prompt = self.prompt(inp)
        return prompt, self.target(inp, body, prompt)

    # -- token ids ----------------------------------------------------------------------------
    def encode_prompt(self, prompt: str) -> list[int]:
        from prover.model import encode_prompt
        if self.fmt.kind == "chat":
            return list(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        return encode_prompt(self.tokenizer, prompt)

    def encode_target(self, target: str) -> list[int]:
        """Target ids + EOS (unless the target already ends with the EOS token, as a chat turn does)."""
        from prover.model import encode_completion
        if self.fmt.kind == "ratchet":
            return encode_completion(self.tokenizer, target)
        if self.tokenizer.eos_token_id is None:
            raise ValueError("tokenizer has no eos_token: the policy could never stop a proof")
        ids = list(self.tokenizer(target, add_special_tokens=False)["input_ids"])
        return ids if ids and ids[-1] == self.tokenizer.eos_token_id else ids + [self.tokenizer.eos_token_id]

    def encode_example(self, inp: PromptInput, body: str) -> tuple[list[int], int]:
        """(ids of prompt + target + EOS, number of prompt ids the loss ignores)."""
        prompt, target = self.example(inp, body)
        p = self.encode_prompt(prompt)
        return p + self.encode_target(target), len(p)

    def extract(self, inp: PromptInput, completion: str, prompt: str | None = None):
        """The proof body in a completion of this format (see prover.extraction)."""
        from prover.extraction import extract_body
        prompt = self.prompt(inp) if prompt is None else prompt
        return extract_body(completion, inp, mode=self.mode(prompt), stop=self.fmt.stop,
                            reasoning=(self.fmt.reasoning_start, self.fmt.reasoning_end))
