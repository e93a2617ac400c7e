"""Drop-in replacements for disentanglement_lib's metric functions, computed by fastdci.

disentanglement_lib lays its arrays out codes-first: ``mus`` is ``(num_codes, num_points)``
and ``ys`` is ``(num_factors, num_points)``. The functions here take that layout and the
reference's arguments, return the same dicts with the same keys, and compute with fastdci,
so existing evaluation code switches by changing an import::

    # from disentanglement_lib.evaluation.metrics import mig, dci
    from fastdci.compat import disentanglement_lib as dlib
    dlib._compute_mig(mus_train, ys_train)          # {"discrete_mig": ...}
    dlib.compute_dci(ground_truth_data, representation_function, np.random.RandomState(0))

* :mod:`.utils`: ``histogram_discretize``, ``make_discretizer``, ``discrete_mutual_info``,
  ``discrete_entropy``, ``split_train_test``, ``normalize_data``, ``obtain_representation``,
  ``generate_batch_factor_code``.
* :mod:`.metrics`: the array-level functions (``_compute_mig``, ``_compute_dci``,
  ``_compute_sap``, ``compute_importance_gbt``, ``disentanglement``, ``completeness``,
  ``modularity``, ``explicitness_per_factor``, ``scalable_disentanglement_score``, ...).
* :mod:`.sampled`: the entry points on a ``GroundTruthData`` (``compute_mig``, ``compute_dci``,
  ``compute_sap``, ``compute_modularity_explicitness``, ``compute_beta_vae_sklearn``,
  ``compute_factor_vae``, ``compute_irs``) and the ``*_on_fixed_data`` variants; they draw the
  reference's points in its order from the same ``RandomState``.
* :mod:`.unsupervised`: ``unsupervised_metrics`` and its Gaussian scores.

Each module's docstring says where a number differs from the reference's and why.
"""

from __future__ import annotations

from .metrics import (
    _compute_dci,
    _compute_mig,
    _compute_sap,
    _drop_constant_dims,
    completeness,
    completeness_per_factor,
    compute_avg_diff_top_two,
    compute_importance_gbt,
    compute_score_matrix,
    disentanglement,
    disentanglement_per_code,
    explicitness_per_factor,
    modularity,
    scalable_disentanglement_score,
)
from .sampled import (
    compute_beta_vae_sklearn,
    compute_dci,
    compute_dci_on_fixed_data,
    compute_factor_vae,
    compute_irs,
    compute_mig,
    compute_mig_on_fixed_data,
    compute_modularity_explicitness,
    compute_sap,
    compute_sap_on_fixed_data,
)
from .unsupervised import gaussian_total_correlation, gaussian_wasserstein_correlation, unsupervised_metrics
from .utils import (
    _histogram_discretize,
    discrete_entropy,
    discrete_mutual_info,
    generate_batch_factor_code,
    histogram_discretize,
    make_discretizer,
    normalize_data,
    obtain_representation,
    split_train_test,
)

__all__ = [
    "_compute_dci", "_compute_mig", "_compute_sap", "_drop_constant_dims", "_histogram_discretize",
    "completeness", "completeness_per_factor", "compute_avg_diff_top_two", "compute_beta_vae_sklearn",
    "compute_dci", "compute_dci_on_fixed_data", "compute_factor_vae", "compute_importance_gbt", "compute_irs",
    "compute_mig", "compute_mig_on_fixed_data", "compute_modularity_explicitness", "compute_sap",
    "compute_sap_on_fixed_data", "compute_score_matrix", "discrete_entropy", "discrete_mutual_info",
    "disentanglement", "disentanglement_per_code", "explicitness_per_factor", "gaussian_total_correlation",
    "gaussian_wasserstein_correlation", "generate_batch_factor_code", "histogram_discretize", "make_discretizer",
    "modularity", "normalize_data", "obtain_representation", "scalable_disentanglement_score",
    "split_train_test", "unsupervised_metrics",
]
