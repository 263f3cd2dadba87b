"""How `assist ask` reads when a question about the calendar asks about (run by `scripts/bench
calendar_questions`): the window of time asking.window_for gives "what does my morning look like tomorrow"
(Thursday 00:00-12:00), against what the person meant, written down by the developers
(bench/data/calendar-questions: the 99 `calendar_query` requests of SLURP's devel split, as people said them
to a voice assistant, and 30 typed questions written for this benchmark before its rules; README.md there).
Asked on Wednesday 9 December 2026 at 18:30. A window is right when it starts and ends where the label does.

The anchor, measured in the same run: this week, Monday to Sunday, whatever was asked (what a weekly
digest of the calendar shows).

    scripts/bench calendar_questions          # under a second
    scripts/bench calendar_questions --show   # and each question read wrong, with the window read
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench" / "data" / "calendar-questions"
NOW = datetime(2026, 12, 9, 18, 30, tzinfo=UTC)  # a Wednesday evening
SHOWN = "%Y-%m-%d %H:%M"


def read(text: str) -> tuple[str, str, str]:
    """The window `assist ask` reads of a calendar question: (how it says it, start, end)."""
    from assist.asking import window_for

    label, start, end = window_for(text, NOW)
    return label, start.strftime(SHOWN), end.strftime(SHOWN)


def this_week(text: str) -> tuple[str, str, str]:
    """The anchor: this week, whatever was asked."""
    from assist.agenda import week_of

    start, end = week_of(NOW)
    return "this week", start.strftime(SHOWN), end.strftime(SHOWN)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show", action="store_true", help="print each question read wrong")
    args = parser.parse_args()
    for name, title in (("slurp-devel.jsonl", "SLURP devel, calendar_query (spoken)"),
                        ("written.jsonl", "written for this benchmark (typed)")):
        rows = [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]
        asked = [row for row in rows if "skip" not in row]
        right = {"assist": 0, "anchor": 0}
        wrong = []
        for row in asked:
            for who, reader in (("assist", read), ("anchor", this_week)):
                label, start, end = reader(row["text"])
                if (start, end) == (row["start"], row["end"]):
                    right[who] += 1
                elif who == "assist":
                    wrong.append(f"    {row['text']!r}: read {label!r} {start} - {end}, meant {row['start']} - "
                                 f"{row['end']}")
        ratio = f"{right['assist'] / right['anchor']:.2f}" if right["anchor"] else "-"
        print(f"\n{title}: {len(asked)} questions ({len(rows) - len(asked)} not about the calendar left out)")
        print(f"  window read right: assist {right['assist']}/{len(asked)}, anchor {right['anchor']}/{len(asked)}, "
              f"ratio {ratio}")
        if args.show:
            print("\n".join(wrong))
    return 0


if __name__ == "__main__":
    sys.exit(main())
