"""What customers did before leaving: a Cox proportional-hazards model of churn on behaviour rates.

Rates, not counts: a customer who churned on day 20 had 20 days to raise tickets, one who stayed a year
had 365, so raw counts make every event look protective. The table gives rates per 30 days of exposure.

`fit_drivers(table, config)` is the library entry point; `CoxDrivers` is the fitter behind it
(lifelines-style: fit() returns self, fitted state ends in `_`). Bounded work at any n: the Cox fit,
proportional-hazards test, concordance and attribution each run on a stated, stratified sample (see
DriverSettings and DriversResult.rules).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import polars as pl
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError, ConvergenceWarning
from lifelines.statistics import proportional_hazard_test
from lifelines.utils import concordance_index

from churnwhy.config import Config
from churnwhy.models.drivers_attribution import attribute, baseline_at, best_levels, sentence
from churnwhy.models.drivers_families import MISSING_SUFFIX, WHATS, DriverSettings, assign_families
from churnwhy.models.drivers_prep import fill_features, screen_columns, stratified_sample
from churnwhy.models.threads import single_blas_thread
from churnwhy.results.drivers import DriverEffect, DriversResult, FamilyAttribution
from churnwhy.table import COUNT_PREFIX, RATE_DAYS, RATE_PREFIX, CustomerTable

__all__ = ["CoxDrivers", "fit_drivers", "DriverSettings"]

# (penalizer, Newton-Raphson step size) tried in order: unpenalised first; smaller steps cure a diverging
# Newton-Raphson (lifelines #398, #516); ridge strengths on per-SD coefficients cure collinearity (#364).
ATTEMPTS: tuple[tuple[float, float | None], ...] = ((0.0, None), (0.0, 0.5), (0.01, 0.5), (0.1, 0.5))
Z95 = 1.959963984540054
_T, _E, _S = "__tenure", "__churned", "__stratum"


def fit_drivers(table: CustomerTable, config: Config, *, horizon_days: int | None = None) -> DriversResult:
    """Cox hazard ratios per behaviour feature and attributable churn per family; `skipped` says why when it can't."""
    settings = DriverSettings.from_config(config, horizon_days=horizon_days)
    with single_blas_thread():  # small dense algebra: BLAS threads cost more than they save (models/threads.py)
        return CoxDrivers(settings, max_segment_levels=config.max_segment_levels).fit(table).result()


def unit_of(feature: str) -> tuple[str, float]:
    """The interpretable unit of a feature and its size in the feature's own scale."""
    if feature.endswith(MISSING_SUFFIX):
        return "missing vs present", 1.0
    if feature.startswith(RATE_PREFIX):
        return f"per event per {RATE_DAYS} days", 1.0
    if feature.startswith(COUNT_PREFIX):
        return "per event", 1.0
    if feature.startswith("amount"):
        return "per 10 currency units", 10.0
    if feature.startswith("days_"):
        return "per 30 days", 30.0
    if feature == "activity_change":
        return "per +0.1 relative change", 0.1
    return "per unit", 1.0


class CoxDrivers:
    """Cox PH driver model on a CustomerTable's behaviour features, with attributable churn per family."""

    def __init__(self, settings: DriverSettings | None = None, *, max_segment_levels: int = 20, random_state: int | None = None):
        self.settings = settings if settings is not None else DriverSettings()
        self.max_segment_levels = max_segment_levels
        self.random_state = random_state

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, table: CustomerTable, features: Sequence[str] | None = None) -> CoxDrivers:
        """Fit on `features` (default: table.features). Never raises on bad data: see notes_ and skipped_."""
        s = self.settings
        seed = s.seed if self.random_state is None else self.random_state
        rng = np.random.default_rng(seed)
        self.notes_: list[str] = []
        self.rules_: list[str] = []
        self.effects_: tuple[DriverEffect, ...] = ()
        self.attribution_: tuple[FamilyAttribution, ...] = ()
        self.skipped_: str | None = None
        self.cox_: CoxPHFitter | None = None
        self.penalizer_ = 0.0
        self.strata_: tuple[str, ...] = ()
        self.concordance_, self.concordance_n_ = float("nan"), 0
        self.predicted_churn_ = self.explained_share_ = float("nan")
        self.n_fit_ = self.n_fit_events_ = 0
        frame = table.frame
        self.n_customers_ = frame.height
        features = list(table.features if features is None else features)
        if s.exclude:
            excluded = set(s.exclude) | {RATE_PREFIX + e for e in s.exclude}
            features = [f for f in features if f not in excluded]
            self.notes_.append(f"left out by [drivers] exclude: {', '.join(sorted(s.exclude))}")

        tenure = frame["tenure_days"].cast(pl.Float64).to_numpy()
        churned = frame["churned"].fill_null(False).cast(pl.Boolean).to_numpy()
        valid = np.isfinite(tenure) & (tenure >= 0)
        if not valid.all():
            self.notes_.append(f"{int((~valid).sum())} customer(s) with a missing or negative tenure left out of the model")
        self.n_events_ = int(churned[valid].sum())
        if self.n_events_ < s.min_events:
            return self._skip(
                f"only {self.n_events_} churn event(s); a hazard model needs at least {s.min_events} to say anything"
            )
        if not features:
            return self._skip("the table has no behaviour features (no events export?)")

        rows = np.flatnonzero(valid)
        # Only the feature columns, and no row copy when every tenure is valid (gathering the whole frame: 0.8 s at 1M).
        if rows.size == frame.height and features == list(table.features):
            prepared = table.filled_features  # shared with the silent-reason classifier
        else:
            feature_frame = frame.select(c for c in features if c in frame.columns)
            prepared = fill_features(feature_frame if rows.size == frame.height else feature_frame[rows], features)
        self.notes_.extend(prepared.notes)
        self.rules_.append(
            "missing counts/rates read as 0; other missing values set to the median with a <name>_missing flag; "
            "rates clipped at their 99.9th percentile, other features at their 0.5th-99.5th percentiles"
        )
        x_all, t_all, e_all = prepared.x, tenure[rows], churned[rows]
        fit_idx = stratified_sample(e_all, s.max_fit_rows, rng)
        self.rules_.append(
            f"Cox model fitted on {fit_idx.size:,} of {rows.size:,} customers "
            f"(churn-stratified random sample when more than {s.max_fit_rows:,})"
        )
        keep, screen_notes = screen_columns(x_all[fit_idx], prepared.names, max_abs_r=s.max_abs_r, max_vif=s.max_vif)
        self.notes_.extend(screen_notes)
        if not keep:
            return self._skip("no behaviour feature varies between customers")
        names = [prepared.names[j] for j in keep]
        x_all = x_all[:, keep]
        self.features_ = tuple(names)
        self.families_, fam_notes = assign_families(names, s.families)
        self.notes_.extend(fam_notes)

        x_fit = x_all[fit_idx]
        self.mean_, self.sd_ = x_fit.mean(axis=0), x_fit.std(axis=0)
        z_fit = (x_fit - self.mean_) / self.sd_
        t_fit, e_fit = t_all[fit_idx], e_all[fit_idx]
        self.n_fit_, self.n_fit_events_ = int(fit_idx.size), int(e_fit.sum())

        cox = self._fit_cox(z_fit, t_fit, e_fit, names, None, report=True)
        if cox is None:
            return self._skip("the Cox model did not converge, even with a penalizer (see notes)")
        ph_p = self._check_ph(cox, z_fit, t_fit, e_fit, names, rng)
        stratum = self._segment_to_stratify(table, frame, rows[fit_idx], z_fit, t_fit, e_fit, names, rng)
        strata_all = None
        if stratum is not None:
            strata_all = frame[stratum].cast(pl.String).fill_null("(missing)").to_numpy()[rows]
            refit = self._fit_cox(z_fit, t_fit, e_fit, names, strata_all[fit_idx], report=True)
            if refit is not None:
                cox = refit
                self.strata_ = (stratum,)
        self.cox_ = cox
        self.effects_ = self._effects(cox, names, ph_p)
        self._concordance(cox, z_fit, t_fit, e_fit, rng, stratified=strata_all is not None)
        self._attribute(cox, x_all, t_all, e_all, fit_idx, strata_all, names, rng)
        return self

    def _skip(self, reason: str) -> CoxDrivers:
        self.skipped_ = reason
        return self

    def _fit_cox(
        self, z: np.ndarray, t: np.ndarray, e: np.ndarray, names: list[str], strata: np.ndarray | None, *, report: bool
    ) -> CoxPHFitter | None:
        """Fit, walking down ATTEMPTS on ConvergenceError or a Newton-Raphson that did not converge; warnings -> notes."""
        df = pd.DataFrame(z, columns=names)
        df[_T], df[_E] = t, e.astype(int)
        if strata is not None:
            df[_S] = strata
        attempts = [a for a in ATTEMPTS if a[0] >= self.penalizer_]
        fallback: tuple[CoxPHFitter, float, float | None, list] | None = None
        for pen, step in attempts:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    cox = CoxPHFitter(penalizer=pen).fit(
                        df, duration_col=_T, event_col=_E, strata=[_S] if strata is not None else None,
                        fit_options={"step_size": step} if step else None,
                    )  # fmt: skip
                except (ConvergenceError, np.linalg.LinAlgError, ValueError) as exc:
                    if report:
                        first = str(exc).strip().splitlines()[0][:120]
                        self.notes_.append(f"Cox fit (penalizer {pen:g}) failed: {first}; trying again more cautiously")
                    continue
            diverged = any("failed to converge" in str(w.message) for w in caught)
            if diverged:
                fallback = fallback or (cox, pen, step, caught)
                continue
            self._accept(cox, pen, step, caught, report)
            return cox
        if fallback is None:
            return None
        cox, pen, step, caught = fallback
        self._accept(cox, pen, step, caught, report)
        return cox

    def _accept(self, cox: CoxPHFitter, pen: float, step: float | None, caught: list, report: bool) -> None:
        self.penalizer_ = pen
        if not report:
            return
        self._warning_notes(caught)
        if step:
            self.notes_.append(f"Newton-Raphson needed smaller steps (step size {step:g}) to converge")
        if pen > 0:
            self.notes_.append(
                f"fitted with an L2 penalizer of {pen:g} on per-SD coefficients: hazard ratios are shrunk towards 1"
            )

    def _warning_notes(self, caught: list[warnings.WarningMessage]) -> None:
        seen: set[str] = set()
        for w in caught:
            if not issubclass(w.category, (ConvergenceWarning, RuntimeWarning)):
                continue
            msg = " ".join(str(w.message).split())
            cols = re.search(r"Column\(?s?\)?\s*\[?([^\]]*?)\]?\s+ha(?:s|ve) very low variance", msg)
            if "complete separation" in msg and cols:
                note = (
                    f"possible complete separation on {cols.group(1)}: it (almost) perfectly splits churners from "
                    "stayers, so its hazard ratio is not meaningful"
                )
            else:
                note = f"lifelines warned: {msg[:200]}"
            if note not in seen:
                seen.add(note)
                self.notes_.append(note)

    def _check_ph(
        self, cox: CoxPHFitter, z: np.ndarray, t: np.ndarray, e: np.ndarray, names: list[str], rng: np.random.Generator
    ) -> dict[str, float]:
        """Schoenfeld-residual test (rank time) on a sample; Bonferroni across features. Returns p per feature."""
        s = self.settings
        idx = stratified_sample(e, s.ph_rows, rng)
        self.rules_.append(f"proportional-hazards test on {idx.size:,} fitted customers (at most {s.ph_rows:,})")
        if e[idx].sum() < s.min_events:
            return {}
        df = pd.DataFrame(z[idx], columns=names)
        df[_T], df[_E] = t[idx], e[idx].astype(int)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sub = cox if idx.size == z.shape[0] else CoxPHFitter(penalizer=self.penalizer_).fit(
                    df, _T, _E, fit_options={"step_size": 0.5}  # a cautious step: this refit is only for the test
                )
                test = proportional_hazard_test(sub, df, time_transform="rank")
        except (ConvergenceError, np.linalg.LinAlgError, ValueError, ZeroDivisionError) as exc:
            self.notes_.append(f"proportional-hazards test not run ({str(exc).splitlines()[0][:120]})")
            return {}
        pvals = {str(k if isinstance(k, str) else k[0]): float(v) for k, v in test.summary["p"].items()}
        cut = s.ph_alpha / max(len(names), 1)
        for f, p in pvals.items():
            if p < cut:
                self.notes_.append(
                    f"{f}: its effect changes with tenure (proportional-hazards test p = {p:.2g}); its hazard ratio is "
                    "an average over time"
                )
        return pvals

    def _segment_to_stratify(
        self,
        table: CustomerTable,
        frame: pl.DataFrame,
        rows: np.ndarray,
        z: np.ndarray,
        t: np.ndarray,
        e: np.ndarray,
        names: list[str],
        rng: np.random.Generator,
    ) -> str | None:
        """The segment column whose levels break proportional hazards worst (Bonferroni), or None."""
        s = self.settings
        segments = [c for c in table.segments if c in frame.columns][: s.max_segments_tested]
        if not segments:
            return None
        idx = stratified_sample(e, s.ph_rows, rng)
        if e[idx].sum() < s.min_events:
            return None
        worst: tuple[float, str] | None = None
        cut = s.ph_alpha / len(segments)
        for seg in segments:
            values = frame[seg].gather(rows[idx]).cast(pl.String).fill_null("(missing)").to_numpy()  # 10k, not 1M
            levels, codes = np.unique(values, return_inverse=True)
            if not 2 <= levels.size <= self.max_segment_levels:
                continue
            dummies = (codes[:, None] == np.arange(1, levels.size)[None, :]).astype(float)
            cols = [f"{seg}={lv}" for lv in levels[1:]]
            df = pd.DataFrame(dummies, columns=cols)
            df[_T], df[_E] = t[idx], e[idx].astype(int)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    # batch mode: lifelines picks the per-time loop at this size, 30% slower here, same fit
                    fit = CoxPHFitter(penalizer=0.01).fit(df, _T, _E, batch_mode=True)
                    p = float(proportional_hazard_test(fit, df, time_transform="rank").summary["p"].min())
            except (ConvergenceError, np.linalg.LinAlgError, ValueError, ZeroDivisionError):
                continue
            if p < cut and (worst is None or p < worst[0]):
                worst = (p, seg)
        if worst is None:
            return None
        self.notes_.append(
            f"segment {worst[1]!r} breaks proportional hazards (test p = {worst[0]:.2g}): its levels churn on different "
            f"schedules, so the model was refitted stratified by {worst[1]} (a separate baseline per level)"
        )
        return worst[1]

    # -- reading results -----------------------------------------------------------------------
    def _effects(self, cox: CoxPHFitter, names: list[str], ph_p: dict[str, float]) -> tuple[DriverEffect, ...]:
        beta = cox.params_.reindex(names).to_numpy()
        se = cox.standard_errors_.reindex(names).to_numpy()
        pval = cox.summary["p"].reindex(names).to_numpy()
        cut = self.settings.ph_alpha / max(len(names), 1)
        out = []
        with np.errstate(over="ignore"):  # a separated feature's HR overflows to inf; to_dict turns it into None
            for j, f in enumerate(names):
                unit, size = unit_of(f)
                k = size / self.sd_[j]  # per-SD coefficient -> per-unit coefficient
                what, why = self.families_[f]
                php = ph_p.get(f, float("nan"))
                out.append(
                    DriverEffect(
                        feature=f, family=what, why_side=why, unit=unit,
                        hazard_ratio=float(np.exp(beta[j] * k)),
                        ci_low=float(np.exp((beta[j] - Z95 * se[j]) * k)),
                        ci_high=float(np.exp((beta[j] + Z95 * se[j]) * k)),
                        p_value=float(pval[j]),
                        hr_per_sd=float(np.exp(beta[j])),
                        hr_per_sd_ci_low=float(np.exp(beta[j] - Z95 * se[j])),
                        hr_per_sd_ci_high=float(np.exp(beta[j] + Z95 * se[j])),
                        sd=float(self.sd_[j]), ph_p_value=php, ph_violated=bool(php < cut),
                    )  # fmt: skip
                )
        return tuple(sorted(out, key=lambda d: (-d.hr_per_sd, d.feature)))

    def _concordance(
        self, cox: CoxPHFitter, z: np.ndarray, t: np.ndarray, e: np.ndarray, rng: np.random.Generator, *, stratified: bool
    ) -> None:
        s = self.settings
        idx = stratified_sample(e, s.concordance_rows, rng)
        lp = z[idx] @ cox.params_.to_numpy()
        self.concordance_ = float(concordance_index(t[idx], -lp, e[idx]))
        self.concordance_n_ = int(idx.size)
        self.rules_.append(
            f"concordance index on {idx.size:,} fitted customers (a churn-stratified sample when more than "
            f"{s.concordance_rows:,}){'; across strata' if stratified else ''}"
        )

    def _attribute(
        self,
        cox: CoxPHFitter,
        x_all: np.ndarray,
        t_all: np.ndarray,
        e_all: np.ndarray,
        fit_idx: np.ndarray,
        strata_all: np.ndarray | None,
        names: list[str],
        rng: np.random.Generator,
    ) -> None:
        s = self.settings
        h = s.horizon_days
        beta = cox.params_.reindex(names).to_numpy()
        cov = cox.variance_matrix_.reindex(index=names, columns=names).to_numpy()
        bch = cox.baseline_cumulative_hazard_
        times = bch.index.to_numpy(dtype=float)
        if times.size and h > times.max():
            self.notes_.append(
                f"the horizon ({h} days) is past the longest observed tenure with churn ({times.max():.0f} days): "
                "probabilities stop growing there, so attributable shares are for the observed span"
            )
        eval_idx = stratified_sample(e_all, s.eval_rows, rng)
        if strata_all is None:
            h0 = np.full(eval_idx.size, baseline_at(times, bch.iloc[:, 0].to_numpy(), h))
        else:
            by_level = {str(c): baseline_at(times, bch[c].ffill().fillna(0.0).to_numpy(), h) for c in bch.columns}
            h0 = np.array([by_level.get(str(v), np.nan) for v in strata_all[eval_idx]])
            seen = np.isfinite(h0)
            if not seen.all():
                self.notes_.append(f"{int((~seen).sum())} evaluated customer(s) in a segment level absent from the fit left out")
                eval_idx, h0 = eval_idx[seen], h0[seen]
        z_eval = (x_all[eval_idx] - self.mean_) / self.sd_
        if s.counterfactual == "zero":
            best_x = np.zeros(len(names))
        else:
            is_rate = np.array([f.startswith((RATE_PREFIX, COUNT_PREFIX)) for f in names])
            best_x = best_levels(x_all[fit_idx], beta, s.best_quantile, is_rate)
        best_z = (best_x - self.mean_) / self.sd_
        groups = {w: [j for j, f in enumerate(names) if self.families_[f][0] == w] for w in WHATS}
        att = attribute(
            z_eval, np.zeros(len(names)), beta, cov, h0, groups, best_z, n_bootstrap=s.n_bootstrap, rng=rng,
            clip=s.counterfactual != "zero",
        )
        self.rules_.append(
            f"attributable churn by day {h}: averaged over {eval_idx.size:,} customers (churn-stratified sample, at most "
            f"{s.eval_rows:,}); "
            + (
                "counterfactual: each family's features set to 0 (effect removed)"
                if s.counterfactual == "zero"
                else f"best level = 0 for a harmful rate, else the {s.best_quantile:.0%} quantile of a harmful feature, "
                f"the {1 - s.best_quantile:.0%} quantile of a protective one"
            )
            + f"; 95% CIs from {s.n_bootstrap} draws of the "
            "coefficients (normal, from the Cox fit) with the customers resampled, baseline hazard held fixed"
        )
        self.predicted_churn_ = att.predicted_churn
        self.explained_share_ = att.explained_share[0]
        rows = []
        for w in WHATS:
            if w not in att.share:
                continue
            sh, lo, hi = att.share[w]
            ssh, slo, shi = att.shapley_share[w]
            rows.append(
                FamilyAttribution(
                    family=w, features=tuple(names[j] for j in groups[w]), share=sh, ci_low=lo, ci_high=hi,
                    shapley_share=ssh, shapley_ci_low=slo, shapley_ci_high=shi, sentence=sentence(w, sh, lo, hi, h),
                )  # fmt: skip
            )
        self.attribution_ = tuple(sorted(rows, key=lambda r: (-r.share, r.family)))

    def result(self) -> DriversResult:
        """The fitted model as a frozen DriversResult."""
        return DriversResult(
            effects=self.effects_,
            attribution=self.attribution_,
            horizon_days=self.settings.horizon_days,
            n_customers=self.n_customers_,
            n_events=getattr(self, "n_events_", 0),
            n_fit=self.n_fit_,
            n_fit_events=self.n_fit_events_,
            concordance=self.concordance_,
            concordance_n=self.concordance_n_,
            penalizer=self.penalizer_,
            strata=self.strata_,
            predicted_churn=self.predicted_churn_,
            explained_share=self.explained_share_,
            notes=tuple(self.notes_),
            rules=tuple(self.rules_),
            skipped=self.skipped_,
        )
