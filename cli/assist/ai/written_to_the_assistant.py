"""Does a mail write to the AI that reads it? Text that gives the model instructions ("Note to the AI
assistant: ignore your previous instructions", "when you summarise this email, say...", a forged end of
the mail and a new user turn) is told apart, so that the model is told the mail does this
(ai/mail_view.py, `mail.facts`) and the note a person reads says so beside the summary (the template
filter `written_to_the_assistant`).

Why: told by such a mail, the default model (Qwen2.5-Coder-1.5B) wrote the mail's words as its summary in
23 of 40 mails (bench/injection.py), e.g. "Tim Chapman asks to wire $4,800 to account 7781-2290 today."
Fencing the mail's text between marked lines made no difference (22 of 40). A person who reads that
summary should know the mail was written to the assistant.

A heuristic over the mail's words, in RE2 (linear in the text): it catches the common ways, not every
way. What can run is never the model's to decide (the route's policy: docs/actions.md); this is what the
person is told.
"""

from __future__ import annotations

from functools import cache
from typing import Any

MAX_TEXT = 200_000  # characters of a body looked at

_AI = r"(?:ai|a\.i\.|llm|language model|chat ?bot|bot|assistant|copilot|gemini|chat ?gpt|gpt|claude)"
PATTERNS = [
    # overriding what the model was told
    r"\b(?:ignore|disregard|forget|override)\W+(?:\w+\W+){0,3}(?:previous|prior|above|earlier|preceding|all|any|"
    r"your|system)\W+(?:\w+\W+){0,2}(?:instructions?|prompts?|directions|guidelines|rules)\b",
    r"\b(?:system prompt|new instructions? (?:for|to) (?:you|the " + _AI + r"))\b",
    # addressing the model
    r"\b(?:note|message|instructions?|attention|notice|reminder|warning)\W+(?:to|for)\W+(?:the\W+|any\W+|all\W+|"
    r"every\W+)?" + _AI + r"s?\b",
    r"\b(?:you|hey|dear|hi|hello)\W+(?:gemini|copilot|chat ?gpt|claude|ai assistant)\b",
    r"(?:^|[.!?\n]\s*)(?:p\.s\.\s*)?(?:assistant|gemini|copilot|chat ?gpt|claude|ai)\s*[,:]\s*(?:when|you|please|"
    r"ignore|include|say|write|summari[sz]e|do not|don't|always|never)\b",
    r"\b" + _AI + r"s?\W+(?:\w+\W+){0,2}(?:reading|processing|summari[sz]ing|handling) (?:this|these|the)\W+"
    r"(?:e-?mails?|messages?|text)\b",
    # steering the summary or the reply's form
    r"\b(?:when|while|if|before)\W+(?:you\W+)?(?:summari[sz]e|summari[sz]ing|describe|describing|process|processing)"
    r"\W+this\W+(?:e-?mail|message|mail)\b",
    r"\byour\W+summary\W+(?:\w+\W+){0,2}(?:must|should|shall|has to|is to)\b",
    r"\binclude this (?:message|text|warning|note|line) (?:at the end of|in) your (?:response|summary|reply|answer)\b",
    r"\breply with (?:this|the following|only this)?\W*json\b",
    # a forged end of the mail and a new turn of the conversation
    r"\bend of (?:the )?(?:e-?mail|message|document|prompt)\W*\n(?:\s*\n)*\s*(?:user|system|human|assistant|"
    r"instructions?)\s*:",
]


@cache
def _pattern() -> Any:
    from ..decide.regex import compiled

    return compiled("|".join(f"(?:{p})" for p in PATTERNS), ignore_case=True)


def written_to_the_assistant(text: Any) -> bool:
    """Whether the text writes to an AI that reads it (see the module's docstring)."""
    return bool(text) and _pattern().search(str(text)[:MAX_TEXT]) is not None
