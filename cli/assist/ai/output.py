"""Reading a model's reply: find the JSON in it (fenced or bare) and validate it against the template's
schema. Model output is untrusted: the parsed value is data for later stages, nothing more."""

from __future__ import annotations

import json
import math
import re
from functools import cache
from typing import Any

from ..schema_text import unquoted

FENCED = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.DOTALL)


class OutputError(ValueError):
    """The reply holds no JSON, or JSON of the wrong shape; the message says what is wrong without
    quoting the reply (it repeats the mail, and errors go to logs and alerts); `for_model` quotes it, for
    the repair round."""

    def __init__(self, message: str, for_model: str | None = None):
        super().__init__(message)
        self.for_model = for_model or message


def find_json(text: str) -> Any:
    """The first JSON object or array in `text`: inside a ``` fence if there is one, else the first `{` or
    `[` from which a whole JSON value decodes. Control characters inside strings are accepted. A value
    nested deeper than jsonl.MAX_DEPTH is refused: no stage could write it out; escapes of lone
    surrogates ("\\ud800") become U+FFFD, as no stage could write those either, and numbers what the
    JSON lines between stages carry (jsonl.writable: an integer beyond 64 bits a float; one beyond a
    float's range, NaN and Infinity null)."""
    from ..jsonl import MAX_DEPTH, deeper_than, writable

    too_deep = OutputError(f"the reply's JSON is nested deeper than {MAX_DEPTH} levels")
    try:
        value = _first_json(text)
    except RecursionError:
        raise too_deep from None
    if deeper_than(value, MAX_DEPTH):
        raise too_deep
    return writable(value)


def _integer(digits: str) -> int | None:
    """An integer of a reply (jsonl.writable brings it within what JSON lines carry); one of 400 digits or
    more is beyond a float's range: null (Python's int() refuses over 4,300 digits with a ValueError)."""
    return int(digits) if len(digits) < 400 else None


def _float(digits: str) -> float | None:
    """A number of a reply; null for one beyond a float's range, as orjson writes infinity."""
    value = float(digits)
    return value if math.isfinite(value) else None


def _first_json(text: str) -> Any:
    # strict=False: a raw line break inside a string (a grammar lets one through) is read as "\n"; numbers
    # as the JSON lines between stages can carry them, NaN and Infinity (not JSON) as null as orjson writes them
    decoder = json.JSONDecoder(strict=False, parse_int=_integer, parse_float=_float, parse_constant=lambda _: None)
    for block in FENCED.findall(text):
        try:
            return decoder.decode(block.strip())
        except json.JSONDecodeError:
            pass
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
            return value
        except json.JSONDecodeError:
            continue
    raise OutputError("the reply holds no JSON value")


@cache
def _validator(schema_json: str) -> Any:
    import jsonschema_rs

    return jsonschema_rs.validator_for(json.loads(schema_json))


def validate(value: Any, schema: dict[str, Any]) -> None:
    validator = _validator(json.dumps(schema, sort_keys=True))
    for error in validator.iter_errors(value):
        where = "/".join(str(p) for p in error.instance_path) or "the reply"
        raise OutputError(f"{where}: {unquoted(error)}", f"{where}: {error.message}")


def parse(text: str, schema: dict[str, Any] | None) -> Any:
    """The JSON in the reply, checked against the schema (when the template has one)."""
    value = find_json(text)
    if schema is not None:
        validate(value, schema)
    return value


def repair_message(error: OutputError, schema: dict[str, Any]) -> dict[str, str]:
    """The one follow-up turn that asks the model to fix its reply."""
    return {"role": "user", "content": f"Your reply could not be used: {error.for_model}. Reply again with only a JSON "
            f"value that matches this JSON Schema, and nothing else:\n{json.dumps(schema)}"}
