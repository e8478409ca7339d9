"""Expressions that turn exported text into typed values: ids, link keys, numbers, yes/no flags, names."""

from __future__ import annotations

import re
from collections.abc import Callable

import polars as pl

# Yes/no words as exports write them, in the languages offices use (accents are removed before matching).
TRUE_WORDS = ("yes", "y", "true", "t", "1", "1.0", "churned", "churn", "cancelled", "canceled", "left", "closed",
              "inactive", "lost", "exited", "terminated", "ended", "lapsed", "former", "attrited", "gone",
              "ja", "j", "oui", "si", "sim", "tak", "da", "igen", "evet", "kylla", "ano", "wahr", "vrai",
              "verdadero", "verdadeiro", "vero", "waar", "sant", "gekundigt", "abgewandert", "resilie", "annule",
              "cancelado", "cancelada", "baja", "disdetto", "opgezegd", "uppsagd")
FALSE_WORDS = ("no", "n", "false", "f", "0", "0.0", "active", "stayed", "retained", "current", "open", "joined",
               "new", "existing", "live", "ongoing", "subscribed", "member", "not",
               "nein", "nee", "nej", "non", "nao", "nie", "nem", "hayir", "ei", "ne", "falsch", "faux", "falso",
               "onwaar", "aktiv", "actif", "activo", "ativo", "attivo", "actief", "bestehend", "vigente",
               # still customers, whatever else they are
               "paused", "suspended", "trial", "trialing", "pending", "hold", "frozen", "delinquent", "renewed")
_TRUE_RE = "|".join(w for w in TRUE_WORDS if w.isalpha())
_FALSE_RE = "|".join(w for w in FALSE_WORDS if w.isalpha())


def text(col: str) -> pl.Expr:
    """Trimmed text; empty becomes null."""
    s = pl.col(col).cast(pl.String).str.strip_chars()
    return pl.when(s.str.len_bytes() > 0).then(s)

# The functions below take `s`, the column already as text(col), when the caller has computed it once for
# several uses (the loader does: without common-subexpression elimination each use would trim it again).


def identifier(col: str, dtype: pl.DataType | type[pl.DataType], s: pl.Expr | None = None, *, float_like: bool = False) -> pl.Expr:
    """Customer ids stay exactly as exported (leading zeros, long digit runs); a float column's '.0' goes, and so
    does a text column's where its ids are written like floats ('1.0'), so that they match '1' elsewhere."""
    s = text(col) if s is None else s
    if dtype.is_float():
        s = s.str.replace(r"\.0$", "")
    elif float_like:
        s = s.str.replace(r"^(-?\d+)\.0+$", "${1}")
    return s


FLOAT_LIKE_ID = r"^-?\d+\.0+$"
SCIENTIFIC_ID = r"^-?\d(\.\d+)?[eE]\+?\d+$"  # 1.23457E+18: an id a spreadsheet rounded


def link_key(kind: str, col: str, s: pl.Expr | None = None) -> pl.Expr:
    """Normalise an identifier another system keys people by, so the same person matches across exports."""
    s = text(col) if s is None else s
    if kind == "email":
        return s.str.to_lowercase().str.replace_all(r"\s+", "")
    if kind == "phone":
        digits = s.str.replace_all(r"\D", "")
        return pl.when(digits.str.len_chars() >= 6).then(digits.str.slice(-10))  # country codes vary; last 10 digits match
    if kind == "handle":
        return s.str.to_lowercase().str.replace_all(r"\s+", "").str.strip_prefix("@")
    return s.str.replace_all(r"[\s-]", "").str.to_uppercase()  # card numbers


def number(
    col: str, dtype: pl.DataType | type[pl.DataType], s: pl.Expr | None = None, step: Callable[[pl.Expr], pl.Expr] | None = None
) -> pl.Expr:
    """Numbers as people export them: currency signs, thousands separators, decimal commas.

    With `step` (computes an expression as a column of its own, before this one), plain numbers are read by a
    cast first and only the rest by the rules below: a value that casts to a finite number holds nothing but
    digits, a sign, a point and an exponent, which the rules leave as they are (an upper-case INF or NAN is
    not finite, so still goes through them). The rules run per batch of rows, and not at all on a batch where
    every value was read by the cast (Polars would run each of their steps over the batch's nulls)."""
    if dtype.is_numeric():
        return pl.col(col).cast(pl.Float64)
    s = text(col) if s is None else s
    if step is None:
        return _written_number(s)
    plain = step(s.cast(pl.Float64, strict=False))
    ok = plain.is_finite().fill_null(False)
    rest = pl.when(~ok).then(s).map_batches(_rules_where_needed, return_dtype=pl.Float64, is_elementwise=True)
    return pl.when(ok).then(plain).otherwise(rest)


# Bounds of a number each canonical column can hold: beyond them a value is an export error, not a customer
# (an infinite tenure, an amount of 1e308 that overflows every sum).
NUMBER_BOUNDS = {"amount": (-1e12, 1e12), "score": (-1e6, 1e6), "tenure": (0.0, 100_000.0)}


def implausible_number(canon: str) -> pl.Expr:
    """True where the canonical number column holds NaN, an infinity, or a value outside NUMBER_BOUNDS."""
    low, high = NUMBER_BOUNDS[canon]
    value = pl.col(canon)
    return (value.is_nan() | ~value.is_between(low, high)).fill_null(False)


def _rules_where_needed(batch: pl.Series) -> pl.Series:
    if batch.null_count() == batch.len():
        return pl.repeat(None, batch.len(), dtype=pl.Float64, eager=True).alias(batch.name)
    return pl.select(_written_number(pl.lit(batch))).to_series().alias(batch.name)


def _written_number(s: pl.Expr) -> pl.Expr:
    s = s.str.replace_all(r"[\s$€£¥%']|^[A-Z]{3}|[A-Z]{3}$", "")
    decimal_comma = s.str.contains(r"^-?\d{1,3}(\.\d{3})*,\d+$|^-?\d+,\d+$")
    s = pl.when(decimal_comma).then(s.str.replace_all(r"\.", "").str.replace(",", ".")).otherwise(s.str.replace_all(",", ""))
    return s.cast(pl.Float64, strict=False)


def flag(col: str, s: pl.Expr | None = None) -> pl.Expr:
    """Yes/No, Y/N, True/False, 1/0 and status words, in several languages -> bool; anything else null (the
    loader rejects it: a guess would hide churners). A label before a colon ('Churned: yes') is dropped; a phrase
    reads by its words ('Attrited Customer'), and one holding both kinds of word ('not churned') stays null."""
    s = (text(col) if s is None else s).str.normalize("NFKD").str.replace_all(r"\p{Mn}", "").str.to_lowercase()
    s = s.str.replace(r"^[^:]*:\s*", "")
    number = s.cast(pl.Float64, strict=False)
    yes = s.str.contains(rf"\b(?:{_TRUE_RE})\b")
    no = s.str.contains(rf"\b(?:{_FALSE_RE})\b")
    return (pl.when(s.is_in(TRUE_WORDS) | (number == 1)).then(True)
            .when(s.is_in(FALSE_WORDS) | (number == 0)).then(False)
            .when(yes & ~no).then(True).when(no & ~yes).then(False).otherwise(None))


def reads_as_flags(values: pl.Series) -> bool:
    """Whether most of a column's values (a sample) are yes/no or status words."""
    s = values.drop_nulls().cast(pl.String).str.strip_chars()
    s = s.filter(s != "")
    if s.len() and s.str.contains(r"^-?\d+(\.\d+)?$").all() and not s.cast(pl.Float64).is_in([0.0, 1.0]).all():
        return False  # numeric codes (1 active, 2 non-active): a status scale, not yes/no words
    return s.len() > 0 and pl.select(flag("v", pl.lit(s)).is_not_null().mean()).item() >= 0.5


def snake(name: str) -> str:
    """'Internet Service' -> 'internet_service'; 'Région' -> 'region'."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    out = re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_")
    return out or "column"


def event_type(expr: pl.Expr) -> pl.Expr:
    """'Delivery Failed' / 'delivery-failed' -> 'delivery_failed'."""
    return (
        expr.cast(pl.String).str.strip_chars().str.to_lowercase()
        .str.replace_all(r"[^a-z0-9]+", "_").str.strip_chars("_")
    )
