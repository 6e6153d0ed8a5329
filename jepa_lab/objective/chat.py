"""Split a tokenizer's chat template into the fixed pieces around the Text and Code content.

Rendering the template once with sentinel strings in place of the content gives the text before,
between and after the two contents. Tokenising those pieces and the contents separately and
concatenating them gives every row jepa-lab builds, so token positions (where the answer starts,
which token ends the turn, where Enc(x) is read) come from the layout itself, never from
per-family offsets. It is also what inference sees: a prompt tokenised alone, then the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

# Used for tokenizers that ship without a chat template (GPT-2 and friends).
PLAIN_CHAT_TEMPLATE = (
    "{{ bos_token if bos_token else '' }}"
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}Question: {{ m['content'] }}\n"
    "{% else %}Answer: {{ m['content'] }}{{ eos_token }}\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}Answer: {% endif %}"
)

_TEXT = "JEPASENTINELTEXT"
_CODE = "JEPASENTINELCODE"


class ChatTemplateError(ValueError):
    """The chat template does not render the content verbatim, so pieces cannot be found."""


@dataclass(frozen=True)
class ChatPieces:
    """Token ids of the template around the contents, for one system prompt.

    NTP row:    before_text + T + between + C + after_code   (after_code ends at end-of-turn)
    Text view:  text_view_before + T + text_view_after        (user turn alone)
    Code view:  code_view_before + C + code_view_after        (assistant turn alone)
    """

    before_text: list[int]
    between: list[int]
    after_code: list[int]
    text_view_before: list[int]
    text_view_after: list[int]
    code_view_before: list[int]
    code_view_after: list[int]
    end_of_turn_id: int
    code_view_role: str

    def prompt(self, text_ids: list[int]) -> list[int]:
        """The prompt an answer is generated from (identical to the NTP row's prompt)."""
        return self.before_text + text_ids + self.between


def _split(rendered: str, sentinels: list[str]) -> list[str]:
    pieces = []
    rest = rendered
    for sentinel in sentinels:
        if rest.count(sentinel) != 1:
            raise ChatTemplateError(
                f"the chat template renders the content {rest.count(sentinel)} times instead of "
                "once, or alters it; jepa-lab needs the content verbatim. Pass a simpler "
                "chat_template to JepaModel."
            )
        before, rest = rest.split(sentinel)
        pieces.append(before)
    pieces.append(rest)
    return pieces


def special_token_ids(tokenizer) -> set[int]:
    """Ids of every special token: the named ones and added tokens flagged special."""
    ids = set(tokenizer.all_special_ids)
    for token_id, added in getattr(tokenizer, "added_tokens_decoder", {}).items():
        if getattr(added, "special", False):
            ids.add(int(token_id))
    return ids


def _until_end_of_turn(ids: list[int], special: set[int], eos_id: int | None) -> list[int]:
    """Cut after the first special token (the end-of-turn); if there is none, end with EOS."""
    for i, token_id in enumerate(ids):
        if token_id in special:
            return ids[: i + 1]
    if eos_id is None:
        raise ChatTemplateError(
            "the template ends a turn with no special token and there is no EOS"
        )
    return ids + [eos_id]


def chat_pieces(
    tokenizer, system: str | None = None, chat_template: str | None = None
) -> ChatPieces:
    """Render the template with sentinels and tokenise the pieces around them."""
    template = chat_template or getattr(tokenizer, "chat_template", None) or PLAIN_CHAT_TEMPLATE

    def render(messages: list[dict[str, str]]) -> str:
        return tokenizer.apply_chat_template(messages, tokenize=False, chat_template=template)

    def ids(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []

    head = [{"role": "system", "content": system}] if system else []
    full = render(
        head + [{"role": "user", "content": _TEXT}, {"role": "assistant", "content": _CODE}]
    )
    before_text, between, after_code = _split(full, [_TEXT, _CODE])
    text_before, text_after = _split(render([{"role": "user", "content": _TEXT}]), [_TEXT])
    code_role = "assistant"
    try:
        code_rendered = render([{"role": "assistant", "content": _CODE}])
    except Exception:  # noqa: BLE001 - e.g. Gemma's template insists the first turn is the user's
        code_role = "user"
        code_rendered = render([{"role": "user", "content": _CODE}])
    code_before, code_after = _split(code_rendered, [_CODE])

    special = special_token_ids(tokenizer)
    eos_id = tokenizer.eos_token_id
    after_code_ids = _until_end_of_turn(ids(after_code), special, eos_id)
    return ChatPieces(
        before_text=ids(before_text),
        between=ids(between),
        after_code=after_code_ids,
        text_view_before=ids(text_before),
        text_view_after=_until_end_of_turn(ids(text_after), special, eos_id),
        code_view_before=ids(code_before),
        code_view_after=_until_end_of_turn(ids(code_after), special, eos_id),
        end_of_turn_id=after_code_ids[-1],
        code_view_role=code_role,
    )
