"""Text a model is given, made unable to open or close a turn of the conversation.

llama.cpp (embedded, and llama-server) and Ollama read the whole chat, the mail inside it, with its
control tokens: a mail that writes `<|im_end|><|im_start|>system` ends the person's turn and opens a
system turn of its own, which the model takes as its instructions. The spellings of the chat formats'
control tokens (ChatML's and Llama 3's `<|...|>`, DeepSeek's `<｜...｜>`, `<s>`, `[INST]`, `<<SYS>>`,
Gemma's `<start_of_turn>`) get a space after their first character: the model reads the same words, as
text.
"""

from __future__ import annotations

import re

CONTROL = re.compile(r"<[|｜][^<>|｜\s]{1,40}[|｜]>|</?s>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>"
                     r"|<(?:bos|eos|pad|unk)>")


def as_text(text: str) -> str:
    """`text` with every control token's spelling broken (`<|im_start|>` as `< |im_start|>`)."""
    return CONTROL.sub(lambda m: m[0][0] + " " + m[0][1:], text)


def messages_as_text(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The messages with their contents as_text: a model is given no turn but the messages' own."""
    return [{**m, "content": as_text(m["content"])} if isinstance(m.get("content"), str) else m for m in messages]
