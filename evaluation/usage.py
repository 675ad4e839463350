"""Usage clusters of a node's own citizens, for targeting by the city's staff.

This runs at the node, on the node's data; neither the features nor the clusters ever leave it.
The node builds one row per citizen with these columns (``CITIZEN_USAGE_FEATURES``), over a
window it chooses (the last 12 months is a sound default):

``requests_web``, ``requests_app``, ``requests_sms``, ``requests_email``, ``requests_phone``,
``requests_counter``
    Requests the citizen submitted through each channel.
``services_used``
    Distinct services the citizen used.
``months_active``
    Months with at least one request.
``satisfaction_mean``
    Mean feedback score (1 to 5); empty when the citizen gave none.

Other numeric columns can be added (the estimator clusters whatever it is given). Counts are
heavily skewed, so each column goes through a signed ``log1p`` before standardisation (set
``log_scale=False`` to skip it); missing values take the column mean.
"""

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import MiniBatchKMeans
from sklearn.metrics import silhouette_score
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from federation.protocol.vocabulary import CITIZEN_CHANNELS

CITIZEN_USAGE_FEATURES: tuple[str, ...] = (
    *(f"requests_{c.value}" for c in CITIZEN_CHANNELS),
    "services_used",
    "months_active",
    "satisfaction_mean",
)


class CitizenUsageClustering(ClusterMixin, TransformerMixin, BaseEstimator):
    """MiniBatchKMeans clusters of citizens' usage, sized for a million citizens.

    Parameters
    ----------
    n_clusters : int or None
        Number of clusters; ``None`` chooses it by the silhouette score on a sample, trying
        ``k_range``.
    k_range : tuple of int
        The smallest and largest k tried when ``n_clusters`` is None.
    batch_size : int
        Mini-batch size of MiniBatchKMeans.
    n_init : int
        Restarts of MiniBatchKMeans (the best inertia wins).
    log_scale : bool
        Apply ``sign(x) * log1p(|x|)`` to every column before standardising.
    silhouette_sample : int
        Citizens sampled to compute the silhouette when choosing k.
    max_steps : int
        Most mini-batches drawn on large data (more than four batches of citizens).
    tol : float
        Stop when no centre moved more than this (in standard deviations) over 10 batches.
    n_threads : int or None
        OpenMP/BLAS threads while fitting. One by default: a mini-batch is too small for more
        threads to pay, and on shared cores they fight (fitting ran 5x slower under load).
        ``None`` leaves the libraries' own setting.
    random_state : int or None
        Seed: the same seed and data give the same clusters.

    Attributes
    ----------
    n_clusters_ : int
        Number of clusters used.
    n_steps_ : int or None
        Mini-batches drawn on large data (None when scikit-learn's own loop fitted small data).
    labels_ : ndarray
        Cluster of each training citizen.
    cluster_centers_ : ndarray
        Centres in the scaled space.
    profiles_ : DataFrame
        Per cluster: ``size``, ``share`` and the mean of every feature in its own units, so that
        staff can tell the clusters apart ("frequent app users", "phone-only", ...).
    silhouette_scores_ : dict of int to float
        The criterion per k when k was chosen, else empty.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray
        Column names when fitted on a DataFrame.
    """

    def __init__(
        self,
        n_clusters: int | None = 6,
        *,
        k_range: tuple[int, int] = (2, 10),
        batch_size: int = 4096,
        n_init: int = 3,
        log_scale: bool = True,
        silhouette_sample: int = 10_000,
        max_steps: int = 500,
        tol: float = 1e-2,
        n_threads: int | None = 1,
        random_state: int | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.batch_size = batch_size
        self.n_init = n_init
        self.log_scale = log_scale
        self.silhouette_sample = silhouette_sample
        self.max_steps = max_steps
        self.tol = tol
        self.n_threads = n_threads
        self.random_state = random_state

    def _scale(self, X: object, *, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        raw = validate_data(self, X, reset=reset, ensure_all_finite="allow-nan", dtype=float)
        data = np.sign(raw) * np.log1p(np.abs(raw)) if self.log_scale else raw
        if reset:
            # A column nobody filled (no citizen rated a service yet) is all NaN: its mean is
            # NaN, filled with 0 below, and numpy's warning about it says nothing to the operator.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(data, axis=0)
                self.fill_ = np.where(np.isfinite(mean), mean, 0.0)
        data = np.where(np.isnan(data), self.fill_, data)
        if reset:
            self.mean_ = data.mean(axis=0)
            sd = data.std(axis=0)
            self.scale_ = np.where(sd > 1e-12, sd, 1.0)
        return (data - self.mean_) / self.scale_, raw

    def _model(self, k: int) -> MiniBatchKMeans:
        return MiniBatchKMeans(
            n_clusters=k,
            batch_size=self.batch_size,
            n_init=self.n_init,
            random_state=self.random_state,
        )

    def _train(self, data: np.ndarray, k: int) -> MiniBatchKMeans:
        """MiniBatchKMeans on uniformly drawn batches, until the centres settle.

        scikit-learn's own ``fit`` draws each batch with per-sample probabilities, a pass over
        all the data at every step (16 ms a step at a million citizens); drawing the batch here
        and calling ``partial_fit`` keeps a step at the cost of its batch.
        """
        model = self._model(k)
        n = data.shape[0]
        if n <= 4 * self.batch_size:  # small data: scikit-learn's loop is as fast and tested
            self.n_steps_ = None
            return model.fit(data)
        rng = np.random.default_rng(self.random_state)
        previous = None
        for step in range(self.max_steps):
            model.partial_fit(data[rng.integers(0, n, self.batch_size)])
            if step % 10 == 9:
                centres = model.cluster_centers_.copy()
                if previous is not None and np.abs(centres - previous).max() < self.tol:
                    break
                previous = centres
        self.n_steps_ = step + 1
        model.labels_ = model.predict(data)
        return model

    def fit(self, X: object, y: object = None) -> "CitizenUsageClustering":
        """Learn the clusters.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_citizens, n_features)
            One row per citizen (see ``CITIZEN_USAGE_FEATURES``).
        y : None
            Ignored.

        Returns
        -------
        CitizenUsageClustering
            The fitted estimator.
        """
        with threadpool_limits(limits=self.n_threads):
            return self._fit(X)

    def _fit(self, X: object) -> "CitizenUsageClustering":
        data, raw = self._scale(X, reset=True)
        n = data.shape[0]
        self.silhouette_scores_: dict[int, float] = {}
        if self.n_clusters is None:
            rng = np.random.default_rng(self.random_state)
            sample = (
                data
                if n <= self.silhouette_sample
                else data[rng.choice(n, self.silhouette_sample, replace=False)]
            )
            low, high = self.k_range
            best: tuple[float, int] | None = None
            for k in range(max(2, low), min(high, len(sample) - 1) + 1):
                labels = self._train(data, k).predict(sample)
                if len(np.unique(labels)) < 2:
                    continue
                score = float(silhouette_score(sample, labels))
                self.silhouette_scores_[k] = score
                if best is None or score > best[0]:
                    best = (score, k)
            k = best[1] if best else 1
        else:
            k = self.n_clusters
        k = min(k, n)
        self.model_ = self._train(data, k)
        self.n_clusters_ = k
        self.labels_ = self.model_.labels_.astype(int)
        self.cluster_centers_ = self.model_.cluster_centers_
        names = getattr(self, "feature_names_in_", None)
        columns = list(names) if names is not None else [f"x{i}" for i in range(raw.shape[1])]
        frame = pd.DataFrame(raw, columns=columns)
        frame["cluster"] = self.labels_
        profiles = frame.groupby("cluster").mean()
        profiles.insert(0, "size", frame.groupby("cluster").size())
        profiles.insert(1, "share", profiles["size"] / n)
        self.profiles_ = profiles
        return self

    def predict(self, X: object) -> np.ndarray:
        """Cluster of each citizen.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_citizens, n_features)
            Citizens' usage rows, with the columns used in ``fit``.

        Returns
        -------
        ndarray
            Cluster labels.
        """
        check_is_fitted(self, "model_")
        data, _ = self._scale(X, reset=False)
        return self.model_.predict(data).astype(int)

    def transform(self, X: object) -> np.ndarray:
        """Distance of each citizen to each cluster centre (in the scaled space).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_citizens, n_features)
            Citizens' usage rows.

        Returns
        -------
        ndarray of shape (n_citizens, n_clusters_)
            Distances.
        """
        check_is_fitted(self, "model_")
        data, _ = self._scale(X, reset=False)
        return self.model_.transform(data)

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
