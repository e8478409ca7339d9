"""Driver families and the [drivers] settings: which behaviour feature means what, and the bounded rules.

Each feature belongs to a `what` family (product / experience / price / other) and, when it points one
way, a `why` side: brand_failed (the business let the customer down) or better_offer (the customer was
pulled away). Defaults come from event-type names; `[drivers.families]` in churnwhy.toml overrides them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from churnwhy.config import Config
from churnwhy.errors import ConfigError
from churnwhy.table import COUNT_PREFIX, RATE_PREFIX

WHATS = ("product", "experience", "price", "other")
WHYS = ("brand_failed", "better_offer")
MISSING_SUFFIX = "_missing"
COUNTERFACTUALS = ("best", "zero")

# First match wins, so the specific signals (competitors, failures) come before the broad ones (price, usage).
_FAIL = r"fail|late|delay|lost|miss|cancel+ed"
DEFAULT_RULES: tuple[tuple[str, str, str | None], ...] = (
    (r"competitor|rival|price[_ -]?match|switch|port[_ -]?out|cheaper", "price", "better_offer"),
    (r"discount|coupon|promo|voucher|deal|retention[_ -]?offer", "price", "better_offer"),
    (rf"(deliver|ship|dispatch|parcel|shipment).*({_FAIL})|({_FAIL}).*(deliver|ship|dispatch|parcel)", "experience", "brand_failed"),
    (r"ticket|complain|defect|outage|downtime|incident|bug|error|crash|escalat|broken|damag|refund|return|chargeback|dispute", "experience", "brand_failed"),
    (r"pric|bill|invoice|charge|payment|fee|tariff|downgrade|upgrade", "price", None),
    (r"login|log[_ -]?in|sign[_ -]?in|session|usage|use|visit|view|click|order|purchase|feature|open|activ|engag|download|renew|deliver", "product", None),
)  # fmt: skip
# Features that are not event rates: spending is value, recency and trend are engagement.
DEFAULT_OTHER_FEATURES: Mapping[str, tuple[str, str | None]] = {
    "amount_window": ("other", None),
    "days_since_last_event": ("product", None),
    "activity_change": ("product", None),
}

@dataclasses.dataclass(frozen=True)
class DriverSettings:
    """The [drivers] table of churnwhy.toml, validated. The defaults below are the only ones: DEFAULTS (the
    valid keys, for config checks and messages) is read off these fields. Every bound on work is here so a
    report can state it."""

    horizon_days: int = 365  # attributable churn "within a year"
    families: Mapping[str, tuple[str, str | None]] = dataclasses.field(default_factory=dict)
    min_events: int = 20  # fewer churn events than this: no hazard model (10 events per feature is the usual rule)
    max_fit_rows: int = 100_000  # Cox fit on a churn-stratified sample of this size (about 0.5 s)
    ph_rows: int = 10_000  # proportional-hazards test on a sample (Schoenfeld residuals are slow at large n)
    concordance_rows: int = 20_000  # concordance index on a sample of the fitted rows
    eval_rows: int = 10_000  # customers averaged over for attributable churn
    n_bootstrap: int = 200  # draws for attributable-churn CIs
    best_quantile: float = 0.05  # "best level": 0 for a harmful rate, else 5th percentile if harmful, 95th if protective
    counterfactual: str = "best"  # best: move each feature to its best level | zero: remove its effect (feature = 0)
    exclude: tuple[str, ...] = ()  # features (or event types) left out of the driver model
    max_abs_r: float = 0.95  # above this correlation two features are one signal: the later one is dropped
    max_vif: float = 10.0  # above this the feature is kept but its hazard ratio is flagged as unstable
    ph_alpha: float = 0.05  # Bonferroni-corrected across the tested features
    max_segments_tested: int = 5
    silent_min_labels: int = 30
    silent_min_per_class: int = 5
    silent_cv_folds: int = 5
    silent_max_rows: int = 50_000
    silent_cv_rows: int = 10_000  # CV accuracy on a label-stratified sample of this size: +-1 point (95%)
    silent_c: float = 1.0  # inverse L2 strength of the logistic regression
    seed: int = 0  # from Config.seed, not a [drivers] key
    inactivity_days: int = 90  # Config.inactivity_days: how long a silence means churn (0: never); not a [drivers] key
    # Fit the hazard ratios on the hazard given the past (drivers_induced); False for a model that only scores
    # customers (the risk model: its scores come from the regression-calibration fit either way). Not a key.
    induced_hazard: bool = True

    @classmethod
    def from_config(cls, config: Config, **overrides: Any) -> DriverSettings:
        """Validate config.drivers (ConfigError naming the key); `overrides` (e.g. horizon_days from a flag) win."""
        raw = dict(config.drivers or {})
        unknown = sorted(set(raw) - set(DEFAULTS))
        if unknown:
            raise ConfigError(
                f"[drivers] unknown key(s): {', '.join(unknown)}", hint=f"valid keys are: {', '.join(sorted(DEFAULTS))}"
            )
        values = {**DEFAULTS, **raw, **{k: v for k, v in overrides.items() if v is not None}}
        families = parse_families(values.pop("families"))
        if values["counterfactual"] not in COUNTERFACTUALS:
            raise ConfigError(
                f"[drivers] counterfactual must be one of {', '.join(COUNTERFACTUALS)}, got {values['counterfactual']!r}"
            )
        exclude = values["exclude"]
        if not isinstance(exclude, (list, tuple)) or not all(isinstance(e, str) for e in exclude):
            raise ConfigError(f"[drivers] exclude must be a list of feature names, got {exclude!r}")
        values["exclude"] = tuple(exclude)
        for key, default in DEFAULTS.items():
            if key in ("families", "counterfactual", "exclude"):
                continue
            v = values[key]
            if isinstance(default, int) and not isinstance(default, bool):
                if isinstance(v, bool) or not isinstance(v, int) or v < (2 if key == "silent_cv_folds" else 1):
                    raise ConfigError(f"[drivers] {key} must be a positive whole number, got {v!r}")
            elif isinstance(default, float):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                    raise ConfigError(f"[drivers] {key} must be a positive number, got {v!r}")
                values[key] = float(v)
        if not values["best_quantile"] < 0.5:
            raise ConfigError(f"[drivers] best_quantile must be below 0.5, got {values['best_quantile']!r}")
        if not values["max_abs_r"] <= 1 or not values["ph_alpha"] < 1:
            raise ConfigError("[drivers] max_abs_r must be at most 1 and ph_alpha below 1")
        return cls(families=families, seed=config.seed, inactivity_days=config.inactivity_days, **values)


_NOT_KEYS = ("seed", "inactivity_days", "induced_hazard")  # not [drivers] keys: top-level config, or the caller
# Keys of [drivers] with their defaults, read off DriverSettings (one place for every default).
def _default(f: dataclasses.Field[Any]) -> Any:
    factory = f.default_factory
    return f.default if factory is dataclasses.MISSING else factory()


DEFAULTS: Mapping[str, Any] = {f.name: _default(f) for f in dataclasses.fields(DriverSettings) if f.name not in _NOT_KEYS}


def parse_families(raw: Any) -> dict[str, tuple[str, str | None]]:
    """[drivers.families]: `key = "experience"` or `key = {what = "price", why = "better_offer"}`.

    A key is an event type (support_ticket) or a feature name (rate_support_ticket, amount_window);
    why = "none" (or leaving it out) means the feature points neither way.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError("[drivers.families] must be a table of feature = family")
    out: dict[str, tuple[str, str | None]] = {}
    for key, value in raw.items():
        where = f"[drivers.families] {key}"
        if isinstance(value, str):
            what, why = value, None
        elif isinstance(value, Mapping):
            extra = sorted(set(value) - {"what", "why"})
            if extra or "what" not in value:
                raise ConfigError(f"{where}: expected {{what = ..., why = ...}}, got keys {sorted(value)}")
            what, why = value["what"], value.get("why")
        else:
            raise ConfigError(f"{where}: expected a family name or {{what, why}}, got {value!r}")
        if what not in WHATS:
            raise ConfigError(f"{where}: family {what!r} is not one of {', '.join(WHATS)}")
        if why in ("none", ""):
            why = None
        if why is not None and why not in WHYS:
            raise ConfigError(f"{where}: why {why!r} is not one of {', '.join(WHYS)} or none")
        out[str(key)] = (what, why)
    return out


def default_family(feature: str) -> tuple[str, str | None]:
    """The family a feature gets from its name alone."""
    if feature.endswith(MISSING_SUFFIX):
        return default_family(feature[: -len(MISSING_SUFFIX)])
    if feature in DEFAULT_OTHER_FEATURES:
        return DEFAULT_OTHER_FEATURES[feature]
    name = event_type_of(feature).lower()
    for pattern, what, why in DEFAULT_RULES:
        if re.search(pattern, name):
            return what, why
    return "other", None


def event_type_of(feature: str) -> str:
    for prefix in (RATE_PREFIX, COUNT_PREFIX):
        if feature.startswith(prefix):
            return feature[len(prefix) :]
    return feature


def assign_families(
    features: Sequence[str], overrides: Mapping[str, tuple[str, str | None]]
) -> tuple[dict[str, tuple[str, str | None]], list[str]]:
    """Family of each feature (overrides by feature name, then by event type, then the default) and notes."""
    out: dict[str, tuple[str, str | None]] = {}
    used: set[str] = set()
    for f in features:
        base = f[: -len(MISSING_SUFFIX)] if f.endswith(MISSING_SUFFIX) else f
        for key in (f, base, event_type_of(base)):
            if key in overrides:
                out[f] = overrides[key]
                used.add(key)
                break
        else:
            out[f] = default_family(f)
    notes = [
        f"[drivers.families] {k} matches no behaviour feature in this data; it was ignored"
        for k in sorted(set(overrides) - used)
    ]
    return out, notes
