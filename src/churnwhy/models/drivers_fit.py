"""Fitting the drivers model: `CoxDrivers` (lifelines-style: fit() returns self, fitted state ends in `_`) and
`DriverFit`, the small typed fitted state that predictions, attribution and other models (risk) read.

Rates, not counts: a customer who churned on day 20 had 20 days to raise tickets, one who stayed a year had
365, so raw counts make every event look protective. Behaviour rates are shrunk for noise and, when the
table keeps month-by-month counts, fitted as a counting process (drivers_counting, cox_counting); otherwise
one row per customer with lifelines' CoxPHFitter. The checks (proportional hazards, not-estimable
coefficients, stratification, concordance) live in drivers_checks, attributable churn in drivers_attribution.
Bounded work at any n: each step runs on a stated, stratified sample (DriverSettings, DriversResult.rules).
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import polars as pl
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError, ConvergenceWarning

from churnwhy.models.cox_counting import CountingCox
from churnwhy.models.drivers_attribution import INTERPRETATION, attribute_families, baseline_at, breslow
from churnwhy.models.drivers_checks import (
    concordance,
    ph_notes,
    ph_test_counting,
    ph_test_rows,
    segment_to_stratify,
    unestimable,
)
from churnwhy.models.drivers_counting import Intervals, RatePriors, interval_frame, monthly_intervals
from churnwhy.models.drivers_design import DriverDesign, inferred_churn, unit_of
from churnwhy.models.drivers_effects import holm_effects, not_estimable, read_effects, separated_levels
from churnwhy.models.drivers_families import WHATS, DriverSettings, assign_families
from churnwhy.models.drivers_induced import InducedFit, fit_induced
from churnwhy.models.drivers_prep import screen_columns, stratified_sample
from churnwhy.models.features import Prepared
from churnwhy.results.drivers import DriverEffect, DriversResult, FamilyAttribution
from churnwhy.table import COUNT_PREFIX, MONTH_DAYS, RATE_PREFIX, CustomerTable

__all__ = ["CoxDrivers", "DriverFit"]

# (penalizer, Newton-Raphson step size) tried in order: unpenalised first; smaller steps cure a diverging
# Newton-Raphson (lifelines #398, #516); ridge strengths on per-SD coefficients cure collinearity (#364).
ATTEMPTS: tuple[tuple[float, float | None], ...] = ((0.0, None), (0.0, 0.5), (0.01, 0.5), (0.1, 0.5))
_T, _E, _S = "__tenure", "__churned", "__stratum"
ATTRIBUTES = "attributes"  # the attribution group of the customer attributes
_MAX_LP = 50.0  # exp overflow guard: P(churn) is 1 long before this


@dataclasses.dataclass(frozen=True, eq=False)
class DriverFit:
    """A fitted drivers model as numbers: per-SD coefficients on `features`, the scaling that standardised
    them, and the cumulative baseline hazard H0(t) at the fitted sample's average customer (one column per
    stratum). Read a customer's drivers with CoxDrivers.design_matrix, then use the methods below."""

    features: tuple[str, ...]
    params: np.ndarray  # per-SD coefficients, in `features` order
    cov: np.ndarray  # their covariance
    mean: np.ndarray  # feature means and SDs of the fitted sample: z = (x - mean) / sd
    sd: np.ndarray
    baseline: pd.DataFrame  # index: days since signup; columns: "baseline" or one per stratum level
    model: str  # cox_ph | counting_process
    penalizer: float
    strata: tuple[str, ...]

    def log_hazard(self, x: np.ndarray) -> np.ndarray:
        """log relative hazard of each row of the design matrix x (0 = the fitted sample's average customer)."""
        return np.asarray(((x - self.mean) / self.sd) @ self.params, dtype=float)

    def cumulative_baseline(self, days: np.ndarray | Sequence[float]) -> np.ndarray:
        """H0 at each of `days` (the first stratum's baseline for a stratified model)."""
        times = self.baseline.index.to_numpy(dtype=float)
        cumhaz = self.baseline.iloc[:, 0].ffill().fillna(0.0).to_numpy()
        return np.array([baseline_at(times, cumhaz, float(d)) for d in np.atleast_1d(days)])

    def survival(self, x: np.ndarray, days: np.ndarray | Sequence[float]) -> np.ndarray:
        """P(still a customer at each of `days` since signup | drivers x): customers x days."""
        h0 = self.cumulative_baseline(days)
        return np.asarray(np.exp(-h0[None, :] * np.exp(np.minimum(self.log_hazard(x), _MAX_LP))[:, None]), dtype=float)

    def churn_probability(self, x: np.ndarray, days: float) -> np.ndarray:
        """P(churn within `days` of signup | drivers x) = 1 - exp(-H0(days) exp(log hazard))."""
        h0 = self.cumulative_baseline([days])[0]
        return np.asarray(-np.expm1(-h0 * np.exp(np.minimum(self.log_hazard(x), _MAX_LP))), dtype=float)


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
    def fit(self, table: CustomerTable, features: Sequence[str] | None = None, *,
            matrix: Prepared | None = None) -> CoxDrivers:
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
        self.separated_: set[str] = set()
        self.baseline_: tuple[np.ndarray, np.ndarray] | None = None
        # What scores customers on their rates as observed (predictions, attribution, risk) when the hazard
        # ratios come from the induced-hazard fit: the regression-calibration fit (docs/drivers.md)
        self.scoring_cox_: CountingCox | None = None
        self.fit_: DriverFit | None = None
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
        if not names:
            return self._skip("no driver is estimable: every candidate is too uncertain or separates churners (see notes)")
        self.cox_ = cox
        keep_idx = [all_names.index(f) for f in names]
        x_all, self.mean_, self.sd_ = x_all[:, keep_idx], mean0[keep_idx], sd0[keep_idx]
        z_fit = z_fit[:, keep_idx]
        self.features_ = tuple(names)
        self.effects_ = holm_effects(
            read_effects(cox, names, ph_p, self.sd_, self.families_, unit_of, self.settings.ph_alpha, self._reference)
            + not_estimable(self.refused_, self.families_, unit_of, self._reference)
        )
        self.fit_ = self._fitted(self.scoring_cox_ if self.scoring_cox_ is not None else cox)
        idx = stratified_sample(e_fit, s.concordance_rows, rng)
        self.concordance_ = concordance(z_fit[idx] @ self.fit_.params, t_fit[idx], e_fit[idx])
        self.concordance_n_ = int(idx.size)
        self.rules_.append(
            f"concordance index on {idx.size:,} fitted customers (a churn-stratified sample when more than "
            f"{s.concordance_rows:,}){'; across strata' if strata_all is not None else ''}"
        )
        self._attribute(x_all, e_all, fit_idx, strata_all, names, rng)
        return self

    def _fitted(self, cox: CoxPHFitter | CountingCox) -> DriverFit:
        """The typed fitted state (coefficients, scaling, baseline) that predictions and attribution read."""
        names = list(self.features_)
        vm = cox.variance_matrix_  # name the columns like the rows, whichever fitter made it
        vm = pd.DataFrame(vm.to_numpy(), index=list(cox.params_.index), columns=list(cox.params_.index))
        if self.baseline_ is not None:  # counting process: Breslow at z = 0, computed from the intervals
            times, cumhaz = self.baseline_
            bch = pd.DataFrame({"baseline": cumhaz}, index=times)
        else:
            assert isinstance(cox, CoxPHFitter)  # a CountingCox always comes with its Breslow baseline_
            bch = cox.baseline_cumulative_hazard_
        return DriverFit(
            features=tuple(names), params=cox.params_.reindex(names).to_numpy(),
            cov=vm.reindex(index=names, columns=names).to_numpy(), mean=self.mean_, sd=self.sd_, baseline=bch,
            model="counting_process" if self.counting_process_ else "cox_ph", penalizer=self.penalizer_,
            strata=self.strata_,
        )  # fmt: skip

    def _fit_model(
        self, table: CustomerTable, frame: pl.DataFrame, rows: np.ndarray, fit_idx: np.ndarray, x_all: np.ndarray,
        z_fit: np.ndarray, t_fit: np.ndarray, e_fit: np.ndarray, names: list[str], rng: np.random.Generator,
    ) -> tuple[CoxPHFitter | CountingCox | None, list[str], dict[str, float], np.ndarray | None]:  # fmt: skip
        """Counting-process Cox when month-by-month counts are known, else a Cox model on one row per customer.
        Refits once without any coefficient that turns out not estimable. -> (model, names, ph p, strata)."""
        monthly = table.monthly
        use_cp = monthly is not None and bool(self.rate_cols_) and self.priors_ is not None
        for attempt in range(2):
            strata_all = None
            ph_p: dict[str, float] = {}
            if use_cp:
                cox, ph_p = self._fit_counting(table, frame, rows, x_all, names, rng)
            else:
                if attempt == 0:
                    self.rules_.append(
                        f"Cox model fitted on {fit_idx.size:,} of {rows.size:,} customers (churn-stratified random "
                        f"sample when more than {self.settings.max_fit_rows:,})"
                    )
                cox = self._fit_cox(z_fit, t_fit, e_fit, names, None, report=attempt == 0)
                if cox is not None:
                    ph_p, ph_msgs, rule = ph_test_rows(
                        cox, z_fit, t_fit, e_fit, names, penalizer=self.penalizer_, max_rows=self.settings.ph_rows,
                        min_events=self.settings.min_events, rng=rng,
                    )  # fmt: skip
                    self.rules_.append(rule)
                    self.notes_.extend(ph_msgs)
                    self.notes_.extend(ph_notes(ph_p, self.settings.ph_alpha, len(names), "proportional-hazards test"))
                    stratum = self._segment_to_stratify(table, frame, rows[fit_idx], t_fit, e_fit, rng)
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
            bad = unestimable(cox.params_, cox.standard_errors_, names, self.sd_, self.separated_, unit_of)
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

    def _skip(self, reason: str) -> CoxDrivers:
        self.skipped_ = reason
        return self

    def _fit_counting(
        self, table: CustomerTable, frame: pl.DataFrame, rows: np.ndarray, x_all: np.ndarray, names: list[str],
        rng: np.random.Generator,
    ) -> tuple[CoxPHFitter | CountingCox | None, dict[str, float]]:  # fmt: skip
        """Counting-process Cox on the month-by-month sample (drivers_counting): rates from the months before."""
        monthly, priors_all = table.monthly, self.priors_
        assert monthly is not None and priors_all is not None  # _fit_model calls this only when both are known
        ids = frame["customer_id"].gather(pl.Series(rows))
        idx = np.flatnonzero(ids.is_in(monthly.customer_ids.implode()).to_numpy())
        tenure = self.tenure_[rows][idx]
        churned = frame["churned"].fill_null(False).cast(pl.Boolean).to_numpy()[rows][idx]
        rate_cols = [j for j, f in enumerate(names) if f.startswith(RATE_PREFIX) and f[len(RATE_PREFIX):] in self.rate_types_]
        types = [names[j][len(RATE_PREFIX):] for j in rate_cols]
        pick = [self.rate_types_.index(t) for t in types]
        window = max(table.lookback_days // MONTH_DAYS, 1)
        priors = priors_all.subset(pick)  # months with few customers at risk use these
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
            return None, {}
        xs = df[names].to_numpy()
        # Customers are scored on their shrunk rates as observed (predictions, attribution, risk) by this fit, the
        # model of the hazard given those rates: the induced fit's hazard ratios are per latent rate, and
        # exp(beta' E[rate]) with them is not the hazard given the rates (Jensen).
        self.baseline_ = breslow(iv.start, iv.stop, iv.event, xs @ cox.params_.reindex(names).to_numpy())
        self.scoring_cox_ = None
        design, offset, fitted, how = xs, None, iv, "their expected values (regression calibration)"
        if rate_cols and inferred_churn(frame)[rows][idx][churned].sum() * 2 > churned.sum():
            how += (
                ", not by the hazard given the past: most churn here is inferred from inactivity, and who is still "
                "a customer then follows the events themselves, not the model's survival"
            )
        elif (
            rate_cols and self.settings.induced_hazard
            and (induced := self._fit_induced(iv, xs, rate_cols, cox, names)) is not None
        ):  # fmt: skip
            self.scoring_cox_, cox = cox, induced.cox
            design, offset, fitted = induced.design, induced.offset, induced.intervals
            how = (
                "the hazard given the past, E[exp(beta' rates) | the window's counts, still a customer] (gamma "
                f"posteriors from everyone's first month, tilted by survival; {induced.iterations} Gauss-Newton "
                "iterations"
                + (f"; on a random {induced.customers:,} of the {idx.size:,} customers, {fitted.who.size:,} month "
                   "rows, a bound on the work" if fitted.who.size < iv.who.size else "")
                + "); customers are scored on their shrunk rates by the regression-calibration fit"
            )
        beta = cox.params_.reindex(names).to_numpy()
        # The same Schoenfeld-residual test as the one-row fit, on the month rows (their time-varying rates).
        ph_p = ph_test_counting(
            design, fitted.start, fitted.stop, fitted.event, beta, cox.variance_matrix_.to_numpy(), names,
            offset=offset,
        )  # fmt: skip
        self.notes_.extend(ph_notes(ph_p, self.settings.ph_alpha, len(names), "proportional-hazards test on the months"))
        self.rules_.append(
            f"counting-process Cox model (churnwhy's CountingCox: Efron ties, the estimates of lifelines' CoxTimeVaryingFitter) on {idx.size:,} customers cut into "
            f"{len(df):,} {MONTH_DAYS}-day months of life"
            + (f" (a random sample of {monthly.n_population:,})" if monthly.sampled else "")
            + f"; in each month a rate is read over the {window} months before it, never after"
            + (f"; the rates enter by {how}" if rate_cols else "")
            + "; proportional hazards tested on every month row (scaled Schoenfeld residuals, rank time)"
        )
        return cox, ph_p

    def _fit_induced(
        self, iv: Intervals, xs: np.ndarray, rate_cols: list[int], cox: CountingCox, names: list[str]
    ) -> InducedFit | None:
        """The induced-hazard fit from the regression-calibration one; None (with a note) when it fails."""
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                fit = fit_induced(iv, xs, rate_cols, self.mean_, self.sd_, cox.params_.reindex(names).to_numpy(),
                                  names, self.penalizer_, seed=self.settings.seed)  # fmt: skip
        except (ConvergenceError, np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
            first = str(exc).strip().splitlines()[0][:120]
            self.notes_.append(
                f"the hazard given the past could not be fitted ({first}): the rates enter at their expected values, "
                "and their hazard ratios lean toward 1"
            )
            return None
        if not fit.converged or any("failed to converge" in str(w.message) for w in caught):
            self.notes_.append(
                f"the hazard given the past did not settle in {fit.iterations} iterations: hazard ratios are those of "
                "the last one"
            )
        return fit

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
        fallback: tuple[CoxPHFitter | CountingCox, float, float | None, list[warnings.WarningMessage]] | None = None
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

    def _accept(
        self, cox: CoxPHFitter | CountingCox, pen: float, step: float | None, caught: list[warnings.WarningMessage],
        report: bool,
    ) -> None:  # fmt: skip
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
        self.separated_ = set()
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


    def _segment_to_stratify(
        self, table: CustomerTable, frame: pl.DataFrame, rows: np.ndarray, t: np.ndarray, e: np.ndarray,
        rng: np.random.Generator,
    ) -> str | None:  # fmt: skip
        """The segment column whose levels break proportional hazards worst (Bonferroni), or None."""
        s = self.settings
        segments = [c for c in table.segments if c in frame.columns][: s.max_segments_tested]
        if not segments:
            return None
        idx = stratified_sample(e, s.ph_rows, rng)
        if e[idx].sum() < s.min_events:
            return None
        values = [(seg, frame[seg].gather(rows[idx]).cast(pl.String).fill_null("(missing)").to_numpy()) for seg in segments]
        worst = segment_to_stratify(values, t[idx], e[idx], max_levels=self.max_segment_levels, alpha=s.ph_alpha)
        if worst is None:
            return None
        self.notes_.append(
            f"segment {worst[1]!r} breaks proportional hazards (test p = {worst[0]:.2g}): its levels churn on different "
            f"schedules, so the model was refitted stratified by {worst[1]} (a separate baseline per level)"
        )
        return worst[1]

    def _attribute(
        self, x_all: np.ndarray, e_all: np.ndarray, fit_idx: np.ndarray, strata_all: np.ndarray | None,
        names: list[str], rng: np.random.Generator,
    ) -> None:  # fmt: skip
        """Attributable churn: behaviour by family, customer attributes (who they are, not what they did) as one group."""
        assert self.fit_ is not None
        attr = np.array([f in self.column_of_ for f in names], dtype=bool)
        groups = {w: [j for j, f in enumerate(names) if self.families_[f][0] == w and not attr[j]] for w in WHATS}
        groups[ATTRIBUTES] = [j for j, f in enumerate(names) if attr[j]]
        is_rate = np.array([f.startswith((RATE_PREFIX, COUNT_PREFIX)) for f in names], dtype=bool) | attr
        shares = attribute_families(
            beta=self.fit_.params, cov=self.fit_.cov, baseline=self.fit_.baseline, x_all=x_all, e_all=e_all,
            fit_idx=fit_idx, strata_all=strata_all, names=names, mean=self.mean_, sd=self.sd_, groups=groups,
            is_rate=is_rate, is_attribute=attr, settings=self.settings, rng=rng,
        )  # fmt: skip
        self.notes_.extend(shares.notes)
        self.rules_.append(shares.rule)
        self.predicted_churn_ = shares.predicted_churn
        self.explained_share_ = shares.explained_share
        self.attribution_ = shares.rows
        self.family_share_sum_ = shares.family_share_sum

    # -- scoring customers (public: the risk model reads it; design_matrix in drivers_design) -------
    def _fitted_state(self) -> DriverFit:
        if self.fit_ is None:
            raise ValueError(f"the driver model is not fitted ({self.skipped_ or 'call fit() first'})")
        return self.fit_

    def predict_log_hazard(self, table: CustomerTable) -> np.ndarray:
        """log relative hazard per customer (0 = the fitted sample's average customer), from today's drivers."""
        return self._fitted_state().log_hazard(self.design_matrix(table))

    def predict_survival(self, table: CustomerTable, days: Sequence[float]) -> np.ndarray:
        """P(still a customer `days` after signup | today's drivers): customers x days (first stratum's baseline)."""
        return self._fitted_state().survival(self.design_matrix(table), days)

    def predict_churn(self, table: CustomerTable, days: int) -> np.ndarray:
        """P(churn within `days` of signup | drivers), 1 - exp(-H0(days) exp(log hazard)); a stratified model has
        one baseline per stratum: the first is used."""
        return self._fitted_state().churn_probability(self.design_matrix(table), days)

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
            notes=tuple(dict.fromkeys(self.notes_)),  # a refit repeats its checks: say each thing once
            rules=tuple(self.rules_),
            skipped=self.skipped_,
        )
