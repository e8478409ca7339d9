"""What customers did before leaving, and who they are: the drivers model's public entry points.

`fit_drivers(table, config)` gives the frozen DriversResult (hazard ratios, attributable churn, notes);
`fit_driver_model(table, config)` the fitted `CoxDrivers` itself, for callers that score customers with it
(`predict_churn`, `predict_survival`, `predict_log_hazard`, or its typed state `model.fit_`, a `DriverFit`).
The work lives in drivers_fit (fitting), drivers_checks (proportional hazards, not-estimable coefficients,
stratification, concordance) and drivers_attribution (attributable churn); the design matrix in drivers_design.
"""

from __future__ import annotations

from churnwhy.config import Config
from churnwhy.models.drivers_families import DriverSettings
from churnwhy.models.drivers_fit import CoxDrivers, DriverFit
from churnwhy.models.features import Prepared
from churnwhy.models.threads import single_blas_thread
from churnwhy.results.drivers import DriversResult
from churnwhy.table import CustomerTable

__all__ = ["CoxDrivers", "DriverFit", "DriverSettings", "fit_driver_model", "fit_drivers"]


def fit_drivers(table: CustomerTable, config: Config, *, horizon_days: int | None = None,
                matrix: Prepared | None = None) -> DriversResult:
    """Cox hazard ratios per driver and attributable churn per family; `skipped` says why when it can't.
    `matrix`: the table's feature_matrix when the caller has built it (the pipeline shares one with every model)."""
    return fit_driver_model(table, config, horizon_days=horizon_days, matrix=matrix).result()


def fit_driver_model(table: CustomerTable, config: Config, *, horizon_days: int | None = None,
                     matrix: Prepared | None = None) -> CoxDrivers:
    """The fitted CoxDrivers itself, for callers that score customers with it (predict_churn, predict_survival)."""
    settings = DriverSettings.from_config(config, horizon_days=horizon_days)
    with single_blas_thread():  # small dense algebra: BLAS threads cost more than they save (models/threads.py)
        return CoxDrivers(
            settings, max_segment_levels=config.max_segment_levels, min_segment_size=config.min_segment_size
        ).fit(table, matrix=matrix)
