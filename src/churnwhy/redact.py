"""Masking of personal data in text a report may quote (only ever with --include-examples).

Every pattern runs in linear time on any input (issue #20 item 4: the old e-mail pattern backtracked from
every position of a long word, quadratic: 3 MB took over 120 s). Each starts only where a run can start (a
look-behind that fails at once inside a run) and consumes runs possessively (Python 3.11 `*+`, `++`), so no
position is scanned more than a bounded number of times. bench/bench_redact.py times a 10 MB field.
"""

from __future__ import annotations

import re

_MASKS = (
    # local@domain.tld: a run of local-part characters, "@", then dot-separated labels.
    (re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)++"), "[email]"),
    # Phone numbers, card and account numbers: 7+ digits, at most two separators between two digits.
    (re.compile(r"(?<![\w+])\+?+\d(?:[ ()./-]{0,2}+\d){6,}+"), "[number]"),
)
# A value that is personal data as a whole (an e-mail address, a long number, a URL with a query).
_PERSONAL = re.compile(r"@|\d{6,}|https?://|www\.", re.IGNORECASE)


def redact(text: str) -> str:
    """E-mail addresses, phone numbers and long digit runs masked."""
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    return text


def looks_personal(value: str) -> bool:
    """True for a code or value that may identify a person (contains an @, a long digit run, a URL)."""
    return bool(_PERSONAL.search(value))
