"""The metric registry: every metric declared once, read by everything else.

Each :class:`MetricSpec` names the metric's family, its public function, its statistics and
finalize functions (``"module:attr"`` strings, imported on first use, so reading the registry
imports neither torch nor Numba), its typed options, its result type, what it needs from the
data and its key names in disentanglement_lib and disent. From this table come the
``fastdci.<name>`` exports, :func:`fastdci.evaluate`'s dispatch, the CLI's ``--metrics`` and
``--set`` checks, ``fastdci metrics``, ``Report.to_dict(style=...)`` and the common tests.

Adding a metric: write its module (result type, ``_<name>_stats(source, *, backend,
random_state, ...)``, ``_<name>_finalize(stats, ...)`` and the public function) and add one
``MetricSpec`` to :data:`METRICS` (see docs/architecture.md).
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Mapping, Sequence

from ..errors import InvalidInputError
from ._options import Option, check_options

__all__ = ["BINNING", "FAMILIES", "METRICS", "MetricSpec", "Option", "compute", "get", "metric_function",
           "check_random_state", "resolve_metrics", "run_metric"]

FAMILIES = ("information", "predictor", "intervention", "unsupervised")


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    """One metric: how to run it, its options, and its names in other libraries.

    ``needs`` is a subset of ``{"counts", "rows", "grid", "others_grid"}``: the information
    metrics need only the joint counts; the others need the rows; ``"grid"`` metrics need rows
    that cover the factor grid with one factor fixed, ``"others_grid"`` with all factors fixed
    but one. ``dlib`` maps fastdci's score and count keys to disentanglement_lib's result
    keys (under ``dlib_name``); ``disent`` maps them to disent's flat keys.
    """

    name: str
    family: str
    summary: str
    function: str
    statistics: str
    finalize: str
    result: str
    options: tuple[Option, ...]
    needs: frozenset
    dlib_name: str
    dlib: Mapping[str, str]
    disent: Mapping[str, str]
    on_device: bool = True

    @property
    def needs_grid(self) -> bool:
        return "grid" in self.needs

    @property
    def public_name(self) -> str:
        """The ``fastdci.<name>`` function."""
        return self.function.partition(":")[2]

    def load(self, what: str) -> Any:
        """Import ``"function"``, ``"statistics"``, ``"finalize"`` or ``"result"``."""
        module, _, attr = getattr(self, what).partition(":")
        return getattr(importlib.import_module(module), attr)

    def check(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Every option with its checked value (see :func:`~fastdci.metrics._options.check_options`)."""
        return check_options(self.name, self.options, given)

    def split_options(self, options: Mapping[str, Any]) -> tuple[dict, dict]:
        """Checked options divided into (statistics options, finalize options)."""
        stage = {o.name: o.stage for o in self.options}
        stats = {k: v for k, v in options.items() if stage[k] == "statistics"}
        final = {k: v for k, v in options.items() if stage[k] == "finalize"}
        return stats, final


# ---------------------------------------------------------------------------- options
def _n_bins(default: int = 20) -> Option:
    return Option("n_bins", "int", default, "bins per latent (equal-width between its min and max)", low=2)


_DISCRETIZER = Option("discretizer", "str", "uniform", "uniform: disentanglement_lib's histogram bins; "
                      "quantile: equal-frequency bins", choices=("uniform", "quantile"))
_INFO = BINNING = (_n_bins(), _DISCRETIZER)  # the information metrics' statistics options
_TEST_SIZE = Option("test_size", "float", 0.5, "fraction of the rows held out for testing", low=0.0, high=1.0,
                    low_open=True, high_open=True)
_GBT, _LOGISTIC, _LINEAR = ("gbt", "stumps", "auto"), ("logistic",), ("logistic", "lasso", "auto")
_LASSO, _TREES = ("lasso", "auto"), ("gbt", "stumps", "auto", "random_forest")
_REG = "regressor"
_DCI_OPTIONS = (
    Option("regressor", "estimator", "auto", "auto: gbt for discrete factors, lasso for continuous ones; gbt: boosted "
           "depth-3 trees (disentanglement_lib's); stumps: depth 1, faster; logistic; lasso; random_forest: "
           "scikit-learn's forests (the metrics review's); or an estimator instance (a scikit-learn one is cloned "
           "and fitted per factor, importances from feature_importances_ or |coef_|)",
           choices=("auto", "gbt", "stumps", "logistic", "lasso", "random_forest")),
    _TEST_SIZE,
    Option("max_train", "int", None, "fit on at most this many training rows (a recorded random subsample)",
           low=2, nullable=True),
    Option("n_rounds", "int", 100, "boosting rounds", low=1, when=(_REG, _GBT)),
    Option("learning_rate", "float", 0.1, "shrinkage of each round", low=0.0, low_open=True, when=(_REG, _GBT)),
    Option("max_depth", "int", None, "tree depth (default 3 for gbt, as scikit-learn's "
           "GradientBoostingClassifier; 1 for stumps; unlimited for random_forest)", low=1, nullable=True,
           when=(_REG, _TREES)),
    Option("max_bins", "int", 255, "histogram bins per latent", low=2, high=256, when=(_REG, _GBT)),
    Option("importance", "str", "global", "global: scikit-learn >= 0.22; per_tree: < 0.22 (published tables)",
           choices=("global", "per_tree"), when=(_REG, _GBT)),
    Option("criterion", "str", "friedman_mse", "split gain", choices=("friedman_mse", "newton"),
           when=(_REG, _GBT)),
    Option("n_estimators", "int", 10, "trees of the random forest (the metrics review's 10)", low=1,
           when=(_REG, ("random_forest",))),
    Option("C", "float", 1.0, "inverse L2 regularisation", low=0.0, low_open=True, when=(_REG, _LOGISTIC)),
    Option("solver", "str", "auto", "optimiser", choices=("auto", "newton", "lbfgs"), when=(_REG, _LOGISTIC)),
    Option("alpha", "float", 0.01, "L1 penalty of the lasso (with auto: of the continuous factors' lasso)",
           low=0.0, when=(_REG, _LASSO)),
    Option("tol", "float", None, "convergence tolerance (default: the regressor's)", low=0.0, low_open=True,
           nullable=True, when=(_REG, _LINEAR)),
    Option("max_iter", "int", None, "iteration cap (default: the regressor's)", low=1, nullable=True,
           when=(_REG, _LINEAR)),
    Option("standardize", "bool", True, "scale each latent to unit variance first", when=(_REG, _LINEAR)),
)
_SAMPLED = (
    Option("batch_size", "int", 64, "rows per batch", low=2),
    Option("n_train", "int", 10000, "batches (votes) to train the majority-vote classifier", low=1),
    Option("n_eval", "int", 5000, "batches (votes) to evaluate it", low=1),
    Option("n_variance_rows", "int", 10000, "rows behind the global variances (None: every row)", low=2,
           nullable=True),
    Option("threshold", "float", 0.05, "minimum global standard deviation of an active latent", low=0.0),
)


def _keys(prefix: str, mapping: Mapping[str, str]) -> dict[str, str]:
    return {k: f"{prefix}.{v}" for k, v in mapping.items()}


def _info(name: str, summary: str, module: str, result: str, extra: tuple = (), dlib_name: str | None = None,
          dlib_key: str | None = None, disent_key: str = "score") -> MetricSpec:
    base = f"fastdci.metrics.information.{module}"
    return MetricSpec(
        name=name, family="information", summary=summary, function=f"{base}:{name}",
        statistics="fastdci.metrics.information._counts:counts_statistics", finalize=f"{base}:_{name}_finalize",
        result=f"{base}:{result}", options=_INFO + extra, needs=frozenset({"counts"}),
        dlib_name=dlib_name or name, dlib={name: dlib_key or name}, disent={name: f"{name}.{disent_key}"},
    )


_ACC = {"train_accuracy": "train_accuracy", "eval_accuracy": "eval_accuracy", "num_active_dims": "num_active_dims"}
_IV = "fastdci.metrics.interventions"
_ES = "fastdci.metrics.predictors.dci_es"
_ES_KEYS = ("explicitness", "size", "disentanglement", "completeness", "informativeness_train",
            "informativeness_test")

METRICS: dict[str, MetricSpec] = {s.name: s for s in [
    _info("mig", "Mutual Information Gap (Chen et al. 2018), disentanglement_lib's recipe", "mig", "MIGResult",
          (Option("normalization", "str", "factor", "factor: gap / H(factor) (disentanglement_lib); latent: "
                  "MI / H(latent) (the metrics review)", choices=("factor", "latent"), stage="finalize"),),
          dlib_key="discrete_mig", disent_key="discrete_score"),
    _info("mig_sup", "MIG-sup (Li et al. 2020): each latent's gap over factors", "mig", "MIGSupResult",
          (Option("normalization", "str", "factor", "factor: MI / H(factor) (Li et al.); latent: MI / H(latent) "
                  "(the metrics review)", choices=("factor", "latent"), stage="finalize"),)),
    _info("jemmig", "normalised JEMMIG (Do & Tran 2020)", "jemmig", "JEMMIGResult"),
    _info("dcimig", "DCIMIG (Sepliarskaia et al. 2019)", "dcimig", "DCIMIGResult"),
    _info("modularity", "modularity (Ridgeway & Zemel 2018), disentanglement_lib's recipe", "modularity",
          "ModularityResult",
          (Option("uninformative", "str", "zero", "a latent with no information: scores 0 (disentanglement_lib) "
                  "or is dropped", choices=("zero", "drop"), stage="finalize"),),
          dlib_name="modularity_explicitness", dlib_key="modularity_score"),
    MetricSpec(
        name="infomec", family="predictor", summary="InfoMEC (Hsu et al. 2023): InfoM, InfoC from the normalised "
        "mutual information, InfoE from a logistic regression",
        function="fastdci.metrics.information.infomec:infomec",
        statistics="fastdci.metrics.information.infomec:_infomec_stats",
        finalize="fastdci.metrics.information.infomec:_infomec_finalize",
        result="fastdci.metrics.information.infomec:InfoMECResult",
        options=_INFO + (
            Option("convention", "str", "tripod", "active latents: tripod: interquartile range > max / 10 (ICML "
                   "2024); latent_quantization: range > max / 20 (NeurIPS 2023)",
                   choices=("tripod", "latent_quantization"), stage="finalize"),
            Option("infoe_baseline", "str", "entropy", "InfoE's denominator: entropy: H(factor); classes: "
                   "ln(classes), the authors' balanced null model", choices=("entropy", "classes"),
                   stage="finalize"),
            Option("mutual_info", "str", "binned", "binned: the shared joint counts; knn: scikit-learn's "
                   "mutual_info_classif, the authors' estimator", choices=("binned", "knn")),
            Option("C", "float", 1e4, "inverse L2 regularisation of InfoE's logistic regression (the authors': "
                   "none)", low=0.0, low_open=True),
            Option("max_rows", "int", None, "fit InfoE (and take the quartiles) on a seeded subsample of this "
                   "many rows", low=2, nullable=True)),
        needs=frozenset({"counts", "rows"}), dlib_name="infomec",
        dlib={"infom": "infom", "infoc": "infoc", "infoe": "infoe"},
        disent=_keys("infomec", {"infom": "infom", "infoc": "infoc", "infoe": "infoe"}),
    ),
    MetricSpec(
        name="dci", family="predictor", summary="DCI disentanglement, completeness, informativeness "
        "(Eastwood & Williams 2018)", function="fastdci.metrics.predictors.dci:dci",
        statistics="fastdci.metrics.predictors.dci:_dci_stats",
        finalize="fastdci.metrics.predictors.dci:_dci_finalize", result="fastdci.metrics.predictors.dci:DCIResult",
        options=_DCI_OPTIONS, needs=frozenset({"rows"}), dlib_name="dci",
        dlib={k: k for k in ("disentanglement", "completeness", "informativeness_train", "informativeness_test")},
        disent=_keys("dci", {k: k for k in ("disentanglement", "completeness", "informativeness_train",
                                            "informativeness_test")}),
    ),
    MetricSpec(
        name="dci_es", family="predictor", summary="DCI-ES (Eastwood et al. 2023): explicitness (area under the "
        "loss-capacity curve over boosting rounds) and size, beside D, C, I", function=f"{_ES}:dci_es",
        statistics=f"{_ES}:_dci_es_stats", finalize=f"{_ES}:_dci_es_finalize", result=f"{_ES}:DCIESResult",
        options=(_TEST_SIZE,
                 Option("max_train", "int", None, "fit on at most this many training rows (a recorded random "
                        "subsample)", low=2, nullable=True),
                 Option("n_rounds", "int", 100, "boosting rounds: the capacity ladder is 1..n_rounds", low=2),
                 Option("learning_rate", "float", 0.1, "shrinkage of each round", low=0.0, low_open=True),
                 Option("max_depth", "int", 3, "tree depth (1 to 3)", low=1, high=3),
                 Option("max_bins", "int", 255, "histogram bins per latent", low=2, high=256),
                 Option("importance", "str", "global", "importance rule of D and C (as dci)",
                        choices=("global", "per_tree")),
                 Option("loss", "str", "error", "a discrete factor's loss: error (the authors') or cross_entropy",
                        choices=("error", "cross_entropy")),
                 Option("convention", "str", "authors", "authors: 1 - 2 area above the curve's minimum / "
                        "(range x baseline), in [-1, 1]; absolute: 1 - area down to 0 / (range x baseline)",
                        choices=("authors", "absolute"), stage="finalize")),
        needs=frozenset({"rows"}), dlib_name="dci_es",
        dlib={k: k for k in _ES_KEYS}, disent=_keys("dci_es", {k: k for k in _ES_KEYS}),
    ),
    MetricSpec(
        name="sap", family="predictor", summary="Separated Attribute Predictability (Kumar et al. 2018)",
        function="fastdci.metrics.predictors.sap:sap", statistics="fastdci.metrics.predictors.sap:_sap_stats",
        finalize="fastdci.metrics.predictors.sap:_sap_finalize", result="fastdci.metrics.predictors.sap:SAPResult",
        options=(_TEST_SIZE,
                 Option("continuous", "bool", False, "squared correlation instead of one-latent linear SVMs"),
                 Option("C", "float", 0.01, "the SVMs' inverse regularisation", low=0.0, low_open=True)),
        needs=frozenset({"rows"}), dlib_name="sap", dlib={"sap": "SAP_score"}, disent={"sap": "sap.score"},
        on_device=False,
    ),
    MetricSpec(
        name="explicitness", family="predictor", summary="explicitness (Ridgeway & Zemel 2018): one-vs-rest "
        "ROC-AUC of a logistic regression", function="fastdci.metrics.predictors.explicitness:explicitness",
        statistics="fastdci.metrics.predictors.explicitness:_explicitness_stats",
        finalize="fastdci.metrics.predictors.explicitness:_explicitness_finalize",
        result="fastdci.metrics.predictors.explicitness:ExplicitnessResult",
        options=(_TEST_SIZE, Option("C", "float", 1.0, "inverse L2 regularisation", low=0.0, low_open=True),
                 Option("classifier", "estimator", "logistic", "logistic, or an estimator with fit/predict_proba",
                        choices=("logistic",)),
                 Option("convention", "str", "disentanglement_lib", "disentanglement_lib: multinomial logistic on "
                        "standardised latents, mean AUC; review: one-vs-rest balanced logistic on min-max scaled "
                        "latents, 2 (AUC - 0.5) (the metrics review's)", choices=("disentanglement_lib", "review"))),
        needs=frozenset({"rows"}), dlib_name="modularity_explicitness",
        dlib={"explicitness_train": "explicitness_score_train", "explicitness_test": "explicitness_score_test"},
        disent={"explicitness_train": "explicitness.train", "explicitness_test": "explicitness.test"},
    ),
    MetricSpec(
        name="beta_vae", family="intervention", summary="BetaVAE score (Higgins et al. 2017)",
        function=f"{_IV}.beta_vae:beta_vae_score", statistics=f"{_IV}.beta_vae:_beta_vae_stats",
        finalize=f"{_IV}.beta_vae:_beta_vae_finalize", result=f"{_IV}.beta_vae:BetaVAEResult",
        options=(Option("batch_size", "int", 64, "pairs averaged into one point", low=1),
                 Option("n_train", "int", 10000, "points to train the classifier", low=1),
                 Option("n_eval", "int", 5000, "points to evaluate it", low=1),
                 Option("C", "float", 1.0, "inverse L2 regularisation of the logistic regression", low=0.0,
                        low_open=True, stage="finalize")),
        needs=frozenset({"rows", "grid"}), dlib_name="beta_vae_sklearn",
        dlib={"train_accuracy": "train_accuracy", "eval_accuracy": "eval_accuracy"},
        disent=_keys("beta_vae", {"train_accuracy": "train_accuracy", "eval_accuracy": "eval_accuracy"}),
    ),
    MetricSpec(
        name="factor_vae", family="intervention", summary="FactorVAE score (Kim & Mnih 2018)",
        function=f"{_IV}.variance:factor_vae_score", statistics=f"{_IV}.variance:_factor_vae_stats",
        finalize=f"{_IV}.variance:_factor_vae_finalize", result=f"{_IV}.variance:FactorVAEResult",
        options=_SAMPLED, needs=frozenset({"rows", "grid"}), dlib_name="factor_vae_metric", dlib=_ACC,
        disent=_keys("factor_vae", _ACC), on_device=False,
    ),
    MetricSpec(
        name="z_max", family="intervention", summary="Z-max variance score (Kim et al. 2019)",
        function=f"{_IV}.variance:z_max_variance", statistics=f"{_IV}.variance:_z_max_stats",
        finalize=f"{_IV}.variance:_z_max_finalize", result=f"{_IV}.variance:ZMaxVarianceResult",
        options=_SAMPLED, needs=frozenset({"rows", "grid", "others_grid"}), dlib_name="z_max_variance", dlib=_ACC,
        disent=_keys("z_max", _ACC), on_device=False,
    ),
    MetricSpec(
        name="unsupervised", family="unsupervised", summary="disentanglement_lib's unsupervised scores: Gaussian "
        "total and Wasserstein correlation, mean mutual information between latents (no factors)",
        function="fastdci.metrics.unsupervised:unsupervised",
        statistics="fastdci.metrics.unsupervised:_unsupervised_stats",
        finalize="fastdci.metrics.unsupervised:_unsupervised_finalize",
        result="fastdci.metrics.unsupervised:UnsupervisedResult", options=(_n_bins(),), needs=frozenset({"rows"}),
        dlib_name="unsupervised",
        dlib={k: k for k in ("gaussian_total_correlation", "gaussian_wasserstein_correlation",
                             "gaussian_wasserstein_correlation_norm", "mutual_info_score")},
        disent=_keys("unsupervised", {"gaussian_total_correlation": "gaussian_total_correlation",
                                      "mutual_info_score": "mutual_info_score"}), on_device=False,
    ),
    MetricSpec(
        name="irs", family="intervention", summary="Interventional Robustness Score (Suter et al. 2019)",
        function=f"{_IV}.irs:irs", statistics=f"{_IV}.irs:_irs_stats", finalize=f"{_IV}.irs:_irs_finalize",
        result=f"{_IV}.irs:IRSResult",
        options=(Option("n_train", "int", 10000, "rows drawn (with replacement) to score on; None: every row once",
                        low=2, nullable=True),
                 Option("diff_quantile", "float", 0.99, "quantile of the deviations taken as the maximal one",
                        low=0.0, high=1.0),
                 Option("n_bins", "int", 20, "equal-width bins of the factor classes (None: the classes)", low=1,
                        nullable=True)),
        needs=frozenset({"rows", "grid"}), dlib_name="irs", dlib={"irs": "IRS", "num_active_dims": "num_active_dims"},
        disent={"irs": "irs.score", "num_active_dims": "irs.num_active_dims"}, on_device=False,
    ),
]}


def get(name: str) -> MetricSpec:
    """The spec of metric ``name``; an unknown name raises with the closest match."""
    spec = METRICS.get(name)
    if spec is None:
        resolve_metrics([name])  # raises the message
    return spec


def resolve_metrics(metrics: str | Sequence[str]) -> list[str]:
    """Metric names, family names or ``"all"`` (a string may be comma-separated) -> names."""
    import difflib

    items = [m.strip() for m in metrics.split(",") if m.strip()] if isinstance(metrics, str) else list(metrics)
    out: list[str] = []
    for m in items:
        if m == "all":
            out += list(METRICS)
        elif m in FAMILIES:
            out += [n for n, s in METRICS.items() if s.family == m]
        elif m in METRICS:
            out.append(m)
        else:
            close = difflib.get_close_matches(str(m), [*METRICS, *FAMILIES], n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise InvalidInputError(
                f"unknown metric {m!r}.{hint} Choose from {', '.join(METRICS)}, a family "
                f"({', '.join(FAMILIES)}) or 'all'."
            )
    return list(dict.fromkeys(out))


# the running half (metric functions call these; re-exported here)
from ._run import check_random_state, compute, metric_function, run_metric  # noqa: E402
