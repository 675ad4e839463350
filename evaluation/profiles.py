"""Group profiles of cities (segment and channel mixes) and city clusters.

The city profile used for clustering is, for every city of ``cities.csv``:

- its context figures and population segment shares;
- ``users_<segment>``: the share of its service users in each age band (all services together);
- ``channel_<channel>``: the share of its submitted requests through each channel;
- ``usage_level``: the mean over its pilots of log(uptake / the service's median pilot uptake),
  so that a city using services more than other pilot cities of the same service scores above 0.

A city without observations has no usage profile; ``CityClustering`` fills it with the
federation's mean, so it is clustered on its context. The number of clusters is the one with the
best silhouette score (k from 2 to 8 by default), each k fitted with k-means from a seeded
start, so the same seed gives the same clusters. The 2-D projection for display is the first two
principal components of the standardised profile.
"""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from .kpis import Cells, KpiResult
from .tables import CHANNELS, OBSERVED_SEGMENTS, SEGMENTS, SHARE_COLUMNS


def city_profiles(
    cities: pd.DataFrame, cells: Cells, kpis: KpiResult, context: list[str]
) -> pd.DataFrame:
    """Profile every city: context, population shares, user segment mix, channel mix, usage.

    Parameters
    ----------
    cities : DataFrame
        The validated cities table.
    cells : Cells
        From ``build_cells``.
    kpis : KpiResult
        From ``compute_kpis`` (for the usage level).
    context : list of str
        The context columns.

    Returns
    -------
    DataFrame
        One row per city, indexed like ``cities``, with ``city_id`` and the profile columns.
    """
    n = len(cities)
    city_index = cells.keys["city_index"].to_numpy()
    profile = cities[["city_id", *context]].copy()
    for column in SHARE_COLUMNS:
        if column in cities.columns:
            profile[column] = cities[column]
    users = np.column_stack(
        [
            np.bincount(
                city_index, weights=np.nan_to_num(cells.segment_citizens[:, j]), minlength=n
            )
            for j in range(len(OBSERVED_SEGMENTS))
        ]
    )[:, : len(SEGMENTS)]
    channels = np.column_stack(
        [
            np.bincount(
                city_index, weights=np.nan_to_num(cells.channel_submitted[:, j]), minlength=n
            )
            for j in range(len(CHANNELS))
        ]
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        users = users / users.sum(axis=1, keepdims=True)
        channels = channels / channels.sum(axis=1, keepdims=True)
    for j, segment in enumerate(SEGMENTS):
        profile[f"users_{segment}"] = users[:, j]
    for j, channel in enumerate(CHANNELS):
        profile[f"channel_{channel}"] = channels[:, j]
    pilots = kpis.pilots
    median = pilots.groupby("service")["uptake"].transform("median").to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = np.log(pilots["uptake"].to_numpy(dtype=float) / median)
    ok = np.isfinite(relative)
    index = pilots["city_index"].to_numpy()[ok]
    total = np.bincount(index, weights=relative[ok], minlength=n)
    count = np.bincount(index, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        profile["usage_level"] = np.where(count > 0, total / count, np.nan)
    return profile


class CityClustering(ClusterMixin, TransformerMixin, BaseEstimator):
    """Cluster cities on standardised profiles, choosing k by the silhouette score.

    Missing figures are filled with the column mean, columns are standardised, then k-means runs
    for every k in ``[k_min, k_max]`` (capped below the number of cities); the k with the highest
    silhouette score wins. ``transform`` gives the 2-D principal-component projection for display.

    Parameters
    ----------
    k_min, k_max : int
        The range of cluster counts to try.
    n_init : int
        k-means restarts per k.
    random_state : int or None
        Seed: the same seed gives the same clusters.

    Attributes
    ----------
    n_clusters_ : int
        The chosen number of clusters.
    silhouette_scores_ : dict of int to float
        The criterion for each k tried.
    labels_ : ndarray
        Cluster of each training city.
    cluster_centers_ : ndarray
        Centres in the standardised space.
    embedding_ : ndarray
        (n, 2) projection of the training cities.
    n_features_in_ : int
        Number of profile columns seen in ``fit``.
    """

    def __init__(
        self, k_min: int = 2, k_max: int = 8, n_init: int = 10, random_state: int | None = None
    ) -> None:
        self.k_min = k_min
        self.k_max = k_max
        self.n_init = n_init
        self.random_state = random_state

    def _prepare(self, X: object, *, reset: bool) -> np.ndarray:
        X = validate_data(self, X, reset=reset, ensure_all_finite="allow-nan", dtype=float)
        if reset:
            self.imputer_ = SimpleImputer(keep_empty_features=True).fit(X)
            self.scaler_ = StandardScaler().fit(self.imputer_.transform(X))
        return self.scaler_.transform(self.imputer_.transform(X))

    def fit(self, X: object, y: object = None) -> "CityClustering":
        """Fit the clusters and the projection.

        Parameters
        ----------
        X : array-like of shape (n_cities, n_features)
            City profiles (NaN allowed).
        y : None
            Ignored.

        Returns
        -------
        CityClustering
            The fitted estimator.
        """
        data = self._prepare(X, reset=True)
        n = data.shape[0]
        distinct = len(np.unique(data.round(12), axis=0))
        self.silhouette_scores_: dict[int, float] = {}
        best = None
        for k in range(max(self.k_min, 2), min(self.k_max, n - 1, distinct) + 1):
            model = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state)
            labels = model.fit_predict(data)
            if len(np.unique(labels)) < 2:
                continue
            score = float(silhouette_score(data, labels))
            self.silhouette_scores_[k] = score
            if best is None or score > best[0]:
                best = (score, model)
        if best is None:  # too few distinct cities to compare clusterings: one cluster
            model = KMeans(n_clusters=1, n_init=1, random_state=self.random_state).fit(data)
        else:
            model = best[1]
        self.kmeans_ = model
        self.n_clusters_ = int(model.n_clusters)
        self.labels_ = model.labels_.astype(int)
        self.cluster_centers_ = model.cluster_centers_
        components = min(2, data.shape[1], n)
        self.pca_ = PCA(n_components=components, random_state=self.random_state).fit(data)
        self.embedding_ = self._project(data)
        return self

    def _project(self, data: np.ndarray) -> np.ndarray:
        projected = self.pca_.transform(data)
        if projected.shape[1] < 2:  # one feature or one city: pad so there are always x and y
            projected = np.column_stack([projected, np.zeros((len(data), 2 - projected.shape[1]))])
        return projected

    def predict(self, X: object) -> np.ndarray:
        """Cluster of each city.

        Parameters
        ----------
        X : array-like of shape (n_cities, n_features)
            City profiles.

        Returns
        -------
        ndarray
            Cluster labels.
        """
        check_is_fitted(self, "kmeans_")
        return self.kmeans_.predict(self._prepare(X, reset=False)).astype(int)

    def transform(self, X: object) -> np.ndarray:
        """The 2-D projection of each city for display.

        Parameters
        ----------
        X : array-like of shape (n_cities, n_features)
            City profiles.

        Returns
        -------
        ndarray of shape (n_cities, 2)
            Coordinates on the first two principal components.
        """
        check_is_fitted(self, "kmeans_")
        return self._project(self._prepare(X, reset=False))

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
