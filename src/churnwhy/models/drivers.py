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
from churnwhy.models.cox_counting import CountingCox
from churnwhy.models.drivers_attribution import INTERPRETATION, attribute, baseline_at, best_levels, breslow, sentence
from churnwhy.models.drivers_counting import RatePriors, interval_frame, monthly_intervals
from churnwhy.models.drivers_design import DriverDesign, unit_of
from churnwhy.models.drivers_effects import holm_effects, not_estimable, read_effects, separated_levels
from churnwhy.models.drivers_families import WHATS, DriverSettings, assign_families
from churnwhy.models.drivers_prep import screen_columns, stratified_sample
from churnwhy.models.features import Prepared
from churnwhy.models.threads import single_blas_thread
from churnwhy.results.drivers import DriverEffect, DriversResult, FamilyAttribution
from churnwhy.table import COUNT_PREFIX, MONTH_DAYS, RATE_PREFIX, CustomerTable

__all__ = ["CoxDrivers", "fit_drivers", "fit_driver_model", "DriverSettings"]


# (penalizer, Newton-Raphson step size) tried in order: unpenalised first; smaller steps cure a diverging
# Newton-Raphson (lifelines #398, #516); ridge strengths on per-SD coefficients cure collinearity (#364).
ATTEMPTS: tuple[tuple[float, float | None], ...] = ((0.0, None), (0.0, 0.5), (0.01, 0.5), (0.1, 0.5))
Z95 = 1.959963984540054
_T, _E, _S = "__tenure", "__churned", "__stratum"
ATTRIBUTES = "attributes"  # the attribution group of the customer attributes


def fit_drivers(table: CustomerTable, config: Config, *, horizon_days: int | None = None,
                matrix: Prepared | None = None) -> DriversResult:
    """Cox hazard ratios per behaviour feature and attributable churn per family; `skipped` says why when it can't.
    `matrix`: the table's feature_matrix when the caller has built it (the pipeline shares one with every model)."""
    return fit_driver_model(table, config, horizon_days=horizon_days, matrix=matrix).result()


def fit_driver_model(table: CustomerTable, config: Config, *, horizon_days: int | None = None,
                     matrix: Prepared | None = None) -> CoxDrivers:
    """The fitted CoxDrivers itself, for callers that score customers with it (predict_churn, predict_log_hazard)."""
    settings = DriverSettings.from_config(config, horizon_days=horizon_days)
    with single_blas_thread():  # small dense algebra: BLAS threads cost more than they save (models/threads.py)
        return CoxDrivers(
            settings, max_segment_levels=config.max_segment_levels, min_segment_size=config.min_segment_size
        ).fit(table, matrix=matrix)


class CoxDrivers(DriverDesign):
    """Cox PH driver model on a CustomerTable's behaviour features, with attributable churn per family."""

    def __init__(
        self,
        settings: DriverSettings | None = None,
        *,
        max_segment_levels: int = 20,
        min_segment_size: int = 30,
        random_state: int | None = None,
    ):
        self.settings = settings if settings is not None else DriverSettings()
        self.max_segment_levels = max_segment_levels
        self.min_segment_size = min_segment_size
        self.random_state = random_state

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, table: CustomerTable, features: Sequence[str] | None = None, *, matrix: Prepared | None = None) -> CoxDrivers:
        """Fit on `features` (default: table.features) and the customer attributes. Never raises on bad data:
        see notes_ and skipped_. `matrix`: the table's feature_matrix, when built already."""
        s = self.settings
        seed = s.seed if self.random_state is None else self.random_state
        rng = np.random.default_rng(seed)
        self.notes_: list[str] = []
        self.rules_: list[str] = []
        self.effects_: tuple[DriverEffect, ...] = ()
        self.attribution_: tuple[FamilyAttribution, ...] = ()
        self.skipped_: str | None = None
        self.cox_: CoxPHFitter | CountingCox | None = None
        self.penalizer_ = 0.0
        self.strata_: tuple[str, ...] = ()
        self.concordance_, self.concordance_n_ = float("nan"), 0
        self.predicted_churn_ = self.explained_share_ = self.family_share_sum_ = float("nan")
        self.n_fit_ = self.n_fit_events_ = 0
        self.priors_: RatePriors | None = None
        self.counting_process_ = False
        self.separated_ = set()
        self.baseline_: tuple[np.ndarray, np.ndarray] | None = None
        frame = table.frame
        self.n_customers_ = frame.height
        behaviour = self._behaviour_features(table, features)
        tenure = self.tenure_ = self._follow_up(table)
        churned = frame["churned"].fill_null(False).cast(pl.Boolean).to_numpy()
        valid = np.isfinite(tenure) & (tenure >= 0)
        if not valid.all():
            self.notes_.append(f"{int((~valid).sum())} customer(s) with a missing or negative tenure left out of the model")
        self.n_events_ = int(churned[valid].sum())
        if self.n_events_ < s.min_events:
            return self._skip(
                f"only {self.n_events_} churn event(s); a hazard model needs at least {s.min_events} to say anything"
            )
        rows = np.flatnonzero(valid)
        x_all, names = self._design(table, behaviour, rows, matrix)
        if not names:
            return self._skip("no behaviour feature and no customer attribute to fit (no events export, no attributes?)")
        t_all, e_all = tenure[rows], churned[rows]
        fit_idx = stratified_sample(e_all, s.max_fit_rows, rng)
        keep, screen_notes = screen_columns(x_all[fit_idx], names, max_abs_r=s.max_abs_r, max_vif=s.max_vif)
        self.notes_.extend(screen_notes)
        if not keep:
            return self._skip("no behaviour feature or customer attribute varies between customers")
        names = [names[j] for j in keep]
        x_all = x_all[:, keep]
        # A level nobody (or everybody) in it churned from cannot have a finite hazard ratio: out before the fit.
        self.refused_: dict[str, str] = separated_levels(x_all[fit_idx], e_all[fit_idx], names, self.column_of_)
        if self.refused_:
            kept = [j for j, f in enumerate(names) if f not in self.refused_]
            names, x_all = [names[j] for j in kept], x_all[:, kept]
        self.families_, fam_notes = assign_families(names + list(self.refused_), s.families)
        self.notes_.extend(fam_notes)
        if not names:
            return self._skip("every candidate driver separates churners from stayers (see notes): nothing estimable")

        x_fit = x_all[fit_idx]
        self.mean_, self.sd_ = x_fit.mean(axis=0), x_fit.std(axis=0)
        z_fit = (x_fit - self.mean_) / self.sd_
        t_fit, e_fit = t_all[fit_idx], e_all[fit_idx]
        self.n_fit_, self.n_fit_events_ = int(fit_idx.size), int(e_fit.sum())
        self.features_ = tuple(names)

        all_names, mean0, sd0 = list(names), self.mean_, self.sd_
        cox, names, ph_p, strata_all = self._fit_model(table, frame, rows, fit_idx, x_all, z_fit, t_fit, e_fit, names, rng)
        if cox is None:
            return self._skip("the Cox model did not converge, even with a penalizer (see notes)")
        self.cox_ = cox
        keep_idx = [all_names.index(f) for f in names]
        x_all, self.mean_, self.sd_ = x_all[:, keep_idx], mean0[keep_idx], sd0[keep_idx]
        z_fit = z_fit[:, keep_idx]
        self.features_ = tuple(names)
        self.effects_ = holm_effects(
            read_effects(cox, names, ph_p, self.sd_, self.families_, unit_of, self.settings.ph_alpha, self._reference)
            + not_estimable(self.refused_, self.families_, unit_of, self._reference)
        )
        self._concordance(cox, z_fit, t_fit, e_fit, rng, stratified=strata_all is not None)
        self._attribute(cox, x_all, t_all, e_all, fit_idx, strata_all, names, rng)
        return self

    def _fit_model(self, table, frame, rows, fit_idx, x_all, z_fit, t_fit, e_fit, names, rng):  # type: ignore[no-untyped-def]
        """Counting-process Cox when month-by-month counts are known, else a Cox model on one row per customer.
        Refits once without any coefficient that turns out not estimable. -> (model, names, ph p, strata)."""
        monthly = table.monthly
        use_cp = monthly is not None and bool(self.rate_cols_) and self.priors_ is not None
        for attempt in range(2):
            strata_all = None
            ph_p: dict[str, float] = {}
            if use_cp:
                cox = self._fit_counting(table, frame, rows, x_all, names, rng)
            else:
                if attempt == 0:
                    self.rules_.append(
                        f"Cox model fitted on {fit_idx.size:,} of {rows.size:,} customers (churn-stratified random "
                        f"sample when more than {self.settings.max_fit_rows:,})"
                    )
                cox = self._fit_cox(z_fit, t_fit, e_fit, names, None, report=attempt == 0)
                if cox is not None:
                    ph_p = self._check_ph(cox, z_fit, t_fit, e_fit, names, rng)
                    stratum = self._segment_to_stratify(table, frame, rows[fit_idx], z_fit, t_fit, e_fit, names, rng)
                    if stratum is not None:
                        strata_all = frame[stratum].cast(pl.String).fill_null("(missing)").to_numpy()[rows]
                        # its own levels are the strata now: their dummies would be constant within each
                        own = [j for j, f in enumerate(names) if not self._is_column(f, stratum)]
                        refit = self._fit_cox(z_fit[:, own], t_fit, e_fit, [names[j] for j in own], strata_all[fit_idx],
                                              report=True)  # fmt: skip
                        if refit is not None:
                            cox = refit
                            self.strata_ = (stratum,)
                            names, x_all, z_fit = [names[j] for j in own], x_all[:, own], z_fit[:, own]
                            self.mean_, self.sd_ = self.mean_[own], self.sd_[own]
                        else:
                            strata_all = None
            if cox is None:
                return None, names, ph_p, None
            bad = self._unestimable(cox, names)
            if not bad or attempt == 1 or len(bad) == len(names):
                for f, why in bad.items():
                    self.refused_[f] = why
                keep = [f for f in names if f not in bad]
                return cox, keep, ph_p, strata_all
            self.refused_.update(bad)
            keep_idx = [j for j, f in enumerate(names) if f not in bad]
            names = [names[j] for j in keep_idx]
            x_all, z_fit = x_all[:, keep_idx], z_fit[:, keep_idx]
            self.mean_, self.sd_ = self.mean_[keep_idx], self.sd_[keep_idx]
            self.features_ = tuple(names)
            self.rate_cols_ = [names.index(f) for f in names if f.startswith(RATE_PREFIX) and f[len(RATE_PREFIX):] in self.rate_types_]
            self.notes_.append(f"refitted without {', '.join(bad)} (not estimable, see the table)")
        return None, names, {}, None

    def _unestimable(self, cox, names: list[str]) -> dict[str, str]:  # type: ignore[no-untyped-def]
        """Coefficients that cannot be read as hazard ratios: named by lifelines' separation warning, or with an
        interval spanning more than a factor of 1,000 on the reported unit."""
        out: dict[str, str] = {}
        se = cox.standard_errors_.reindex(names).to_numpy()
        beta = cox.params_.reindex(names).to_numpy()
        for j, f in enumerate(names):
            k = unit_of(f)[1] / self.sd_[j]
            if f in self.separated_:
                out[f] = "separation: it (almost) perfectly splits churners from stayers"
            elif not np.isfinite(se[j]) or 2 * Z95 * se[j] * k > np.log(1000) or abs(beta[j]) > 10:
                out[f] = "its 95% interval spans more than a factor of 1,000 (too little information, or quasi-separation)"
        return out

    def _skip(self, reason: str) -> CoxDrivers:
        self.skipped_ = reason
        return self

    def _fit_counting(self, table, frame, rows, x_all, names, rng):  # type: ignore[no-untyped-def]
        """Counting-process Cox on the month-by-month sample (drivers_counting): rates from the months before."""
        monthly = table.monthly
        ids = frame["customer_id"].gather(pl.Series(rows))
        idx = np.flatnonzero(ids.is_in(monthly.customer_ids.implode()).to_numpy())
        tenure = self.tenure_[rows][idx]
        churned = frame["churned"].fill_null(False).cast(pl.Boolean).to_numpy()[rows][idx]
        rate_cols = [j for j, f in enumerate(names) if f.startswith(RATE_PREFIX) and f[len(RATE_PREFIX):] in self.rate_types_]
        types = [names[j][len(RATE_PREFIX):] for j in rate_cols]
        pick = [self.rate_types_.index(t) for t in types]
        window = max(table.lookback_days // MONTH_DAYS, 1)
        tix = np.array([table.event_types.index(t) for t in types], dtype=np.int64)

        priors = self.priors_.subset(pick)  # months with few customers at risk use these
        iv = monthly_intervals(
            monthly, ids.to_numpy()[idx], tenure, churned,
            np.array([table.event_types.index(t) for t in types], dtype=np.int64), priors, window,
        )  # fmt: skip
        z = (x_all[idx] - self.mean_) / self.sd_
        df = interval_frame(iv, z, rate_cols, names, self.mean_, self.sd_)
        self.n_fit_, self.n_fit_events_ = int(idx.size), int(churned.sum())
        self.counting_process_ = True
        cox = self._fit_cox_frame(df, names, report=True, counting=True)
        if cox is None:
            return None
        lp = df[names].to_numpy() @ cox.params_.reindex(names).to_numpy()
        self.baseline_ = breslow(iv.start, iv.stop, iv.event, lp)
        self.rules_.append(
            f"counting-process Cox model (churnwhy's CountingCox: Efron ties, the estimates of lifelines' CoxTimeVaryingFitter) on {idx.size:,} customers cut into "
            f"{len(df):,} {MONTH_DAYS}-day months of life"
            + (f" (a random sample of {monthly.n_population:,})" if monthly.sampled else "")
            + f"; in each month a rate is the shrunk rate over the {window} months before it, never after"
        )
        return cox

    def _fit_cox(
        self, z: np.ndarray, t: np.ndarray, e: np.ndarray, names: list[str], strata: np.ndarray | None, *, report: bool
    ) -> CoxPHFitter | None:
        """Fit, walking down ATTEMPTS on ConvergenceError or a Newton-Raphson that did not converge; warnings -> notes."""
        df = pd.DataFrame(z, columns=names)
        df[_T], df[_E] = t, e.astype(int)
        if strata is not None:
            df[_S] = strata
        return self._fit_cox_frame(df, names, report=report, strata=strata is not None)

    def _fit_cox_frame(
        self, df: pd.DataFrame, names: list[str], *, report: bool, strata: bool = False, counting: bool = False
    ) -> CoxPHFitter | CountingCox | None:
        attempts = [a for a in ATTEMPTS if a[0] >= self.penalizer_]
        fallback: tuple[CoxPHFitter | CountingCox, float, float | None, list] | None = None
        for pen, step in attempts:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    if counting:
                        cox = CountingCox(penalizer=pen).fit(
                            df[names].to_numpy(), df["__start"].to_numpy(float), df["__stop"].to_numpy(float),
                            df["__event"].to_numpy(bool), names, step_size=step,
                        )  # fmt: skip
                    else:
                        cox = CoxPHFitter(penalizer=pen).fit(
                            df, duration_col=_T, event_col=_E, strata=[_S] if strata else None,
                            fit_options={"step_size": step} if step else None,
                        )  # fmt: skip
                except (ConvergenceError, np.linalg.LinAlgError, ValueError, ZeroDivisionError) as exc:
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

    def _accept(self, cox, pen: float, step: float | None, caught: list, report: bool) -> None:  # type: ignore[no-untyped-def]
        self.penalizer_ = pen
        self._warning_notes(caught, report)
        if not report:
            return
        if step:
            self.notes_.append(f"Newton-Raphson needed smaller steps (step size {step:g}) to converge")
        if pen > 0:
            self.notes_.append(
                f"fitted with an L2 penalizer of {pen:g} on per-SD coefficients: hazard ratios are shrunk towards 1"
            )

    def _warning_notes(self, caught: list[warnings.WarningMessage], report: bool = True) -> None:
        """lifelines' warnings as notes; the columns it names as separated are remembered (separated_)."""
        seen: set[str] = set()
        self.separated_: set[str] = set()
        for w in caught:
            if not issubclass(w.category, (ConvergenceWarning, RuntimeWarning)):
                continue
            msg = " ".join(str(w.message).split())
            cols = re.search(r"Column\(?s?\)?\s*\[?([^\]]*?)\]?\s+ha(?:s|ve) very low variance", msg)
            if "complete separation" in msg and cols:
                self.separated_.update(c.strip().strip("'\"") for c in cols.group(1).split(","))
                note = (
                    f"possible complete separation on {cols.group(1)}: it (almost) perfectly splits churners from "
                    "stayers, so its hazard ratio is not meaningful"
                )
            else:
                note = f"lifelines warned: {msg[:200]}"
            if note not in seen and report:
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
    def _concordance(
        self, cox: CoxPHFitter, z: np.ndarray, t: np.ndarray, e: np.ndarray, rng: np.random.Generator, *, stratified: bool
    ) -> None:
        s = self.settings
        idx = stratified_sample(e, s.concordance_rows, rng)
        lp = z[idx] @ cox.params_.reindex(list(self.features_)).to_numpy()
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
        vm = cox.variance_matrix_  # name the columns like the rows, whichever fitter made it
        vm = pd.DataFrame(vm.to_numpy(), index=list(cox.params_.index), columns=list(cox.params_.index))
        cov = vm.reindex(index=names, columns=names).to_numpy()
        if self.baseline_ is not None:  # counting process: Breslow at z = 0, computed from the intervals
            times, cumhaz = self.baseline_
            bch = pd.DataFrame({"baseline": cumhaz}, index=times)
        else:
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
            is_rate = np.array([f.startswith((RATE_PREFIX, COUNT_PREFIX)) or f in self.column_of_ for f in names])
            best_x = best_levels(x_all[fit_idx], beta, s.best_quantile, is_rate)
            # An attribute level's best is not being in it (against the reference); never "everyone in it".
            best_x = np.where([f in self.column_of_ for f in names], 0.0, best_x)
        best_z = (best_x - self.mean_) / self.sd_
        # Behaviour by family; customer attributes (who the customers are, not what they did) as one group.
        groups = {w: [j for j, f in enumerate(names) if self.families_[f][0] == w and f not in self.column_of_]
                  for w in WHATS}  # fmt: skip
        groups[ATTRIBUTES] = [j for j, f in enumerate(names) if f in self.column_of_]
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
            + f"; 95% CIs: estimate +- 1.96 x the standard deviation over {s.n_bootstrap} draws of the "
            "coefficients (normal, from the Cox fit) with the customers resampled, baseline hazard held fixed"
        )
        self.predicted_churn_ = att.predicted_churn
        self.explained_share_ = att.explained_share[0]
        rows = []
        for w in (*WHATS, ATTRIBUTES):
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
        self.family_share_sum_ = float(sum(r.share for r in rows))

    # -- scoring customers (public: the risk model reads it; design_matrix in drivers_design) -------
    def predict_log_hazard(self, table: CustomerTable) -> np.ndarray:
        """log relative hazard per customer (0 = the fitted sample's average customer), from today's drivers."""
        z = (self.design_matrix(table) - self.mean_) / self.sd_
        return z @ self.cox_.params_.reindex(list(self.features_)).to_numpy()

    def predict_churn(self, table: CustomerTable, days: int) -> np.ndarray:
        """P(churn within `days` of signup | drivers), 1 - exp(-H0(days) exp(log hazard)); unstratified baselines
        only (a stratified model has one per stratum: use the first)."""
        if self.baseline_ is not None:
            times, cumhaz = self.baseline_
        else:
            bch = self.cox_.baseline_cumulative_hazard_
            times, cumhaz = bch.index.to_numpy(dtype=float), bch.iloc[:, 0].ffill().fillna(0.0).to_numpy()
        h0 = baseline_at(times, cumhaz, days)
        return -np.expm1(-h0 * np.exp(np.minimum(self.predict_log_hazard(table), 50.0)))

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
            family_share_sum=self.family_share_sum_,
            model="counting_process" if self.counting_process_ else "cox_ph",
            interpretation=INTERPRETATION if self.cox_ is not None else "",
            notes=tuple(self.notes_),
            rules=tuple(self.rules_),
            skipped=self.skipped_,
        )
