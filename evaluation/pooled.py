"""A partially pooled model of uptake: what services have in common is learnt from all of them.

Each row of the training data is one service in one pilot city and one age band (or the whole
population, for the context-only model): its monthly uptake rate and its exposure (people of
the band times months, in thousands). The model of the log rate is

    log rate = level[service, band] + context · (shared + deviation[service])
               + country[country] + country_service[service, country] + city[city] + noise

- ``level`` is free for each service and band (a service has its own popularity and age mix);
- ``shared`` are context effects common to every service, lightly penalised (``alpha_shared``);
- ``deviation`` is each service's own departure from them, shrunk towards zero by a ridge
  penalty chosen among ``alphas`` by city-grouped cross-validation (a service with a dozen
  pilots then borrows the slopes the others show, and one with hundreds keeps its own);
- ``country``, ``country_service`` and ``city`` are random effects estimated from the residuals
  by the method of moments: a country's effect shared by all services, each service's own
  departure from it, and a city's own effect across the services it piloted, each shrunk by
  how much the data show it.

The fit is weighted least squares on the log scale with weights ``1 / (1 / count + tau2)``:
the Poisson variance of the log of a count plus the variance between cities (``tau2``, estimated
from the residuals), the usual approximation of a Poisson likelihood with the exposure as offset
when counts are not tiny.
"""

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

_FLOOR = 0.01  # citizens per 1,000 per month: keeps log() finite for a band nobody used
_LEVEL_RIDGE = 1e-6  # keeps a service's level finite in a fold where it has no rows


def city_folds(groups: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold of each row: every row of a group (a city) in one fold, by a seeded shuffle.

    Parameters
    ----------
    groups : ndarray
        (n,) group label of each row.
    n_folds : int
        Number of folds (fewer when there are fewer groups).
    seed : int
        Seed of the shuffle; the folds depend on the labels only, never on the data.

    Returns
    -------
    ndarray
        (n,) fold index of each row.
    """
    labels, group_of = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    k = max(1, min(n_folds, len(labels)))
    order = np.random.default_rng(seed).permutation(len(labels))
    fold_of_label = np.empty(len(labels), dtype=int)
    fold_of_label[order] = np.arange(len(labels)) % k
    return fold_of_label[group_of.ravel()]


class PooledUptakeModel(RegressorMixin, BaseEstimator):
    """Partially pooled log-linear model of uptake rates across services (see the module).

    Parameters
    ----------
    alphas : sequence of float
        Candidate ridge penalties of each service's deviation from the shared context effects;
        the one with the lowest city-grouped cross-validated error is used.
    alpha_shared : float
        Ridge penalty of the shared context effects (standardised context).
    cv : int
        Number of city-grouped folds for choosing the penalty and for the out-of-fold
        predictions.
    random_state : int
        Seed of the fold assignment.
    optional : sequence of int
        Columns of ``X`` that enter the model only when the city-grouped cross-validated error
        is lower with them than without them (log population: a city's size should not rank
        cities unless the pilots show that it matters).
    optional_margin : float
        How much lower (as a share) the cross-validated error must be with the ``optional``
        columns for them to enter: a gain within the noise of the folds keeps the simpler model.
    mostly_shared : sequence of int
        Columns whose services' deviations are penalised ``shared_factor`` times more than the
        others' (effects that a dozen pilots of one service cannot tell apart from noise, such
        as how much more a figure matters for one age band: learnt across services).
    shared_factor : float
        The multiplier of the deviation penalty of the ``mostly_shared`` columns.

    Attributes
    ----------
    alpha_ : float
        The chosen deviation penalty.
    cv_errors_ : dict of float to float
        Weighted mean squared out-of-fold log error of each candidate penalty.
    services_, bands_ : ndarray
        The service and band labels seen in ``fit``.
    mean_, scale_ : ndarray
        Standardisation of the context columns (learnt in ``fit``).
    levels_ : ndarray
        (services, bands) log levels.
    shared_ : ndarray
        (features,) shared context effects on the standardised scale.
    slopes_ : ndarray
        (services, features) each service's context effects (shared plus deviation).
    tau2_ : float
        Variance between cities left by the fixed part, used in the weights.
    country_effects_, city_effects_ : dict
        Shrunken random effects: ``(service, country)`` and ``country`` keys, ``city`` keys.
    effect_variances_ : dict of str to float
        ``country``, ``country_service``, ``city`` and ``residual`` variance components.
    uses_optional_ : bool
        Whether the ``optional`` columns entered the model (their slopes are 0 otherwise).
    set_errors_ : dict of str to float
        The lowest cross-validated error with (``with``) and without (``without``) them.
    oof_log_pred_ : ndarray
        (n,) log prediction of each training row by a model fitted without its city's fold.
    n_features_in_ : int
        Number of context columns.
    """

    def __init__(
        self,
        alphas: Sequence[float] = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0),
        alpha_shared: float = 1.0,
        cv: int = 5,
        random_state: int = 0,
        optional: Sequence[int] = (),
        mostly_shared: Sequence[int] = (),
        shared_factor: float = 100.0,
        optional_margin: float = 0.0,
    ) -> None:
        self.alphas = alphas
        self.alpha_shared = alpha_shared
        self.cv = cv
        self.random_state = random_state
        self.optional = optional
        self.mostly_shared = mostly_shared
        self.shared_factor = shared_factor
        self.optional_margin = optional_margin

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        exposure: np.ndarray | None = None,
        service: np.ndarray | None = None,
        band: np.ndarray | None = None,
        city: np.ndarray | None = None,
        country: np.ndarray | None = None,
    ) -> "PooledUptakeModel":
        """Fit the model.

        Parameters
        ----------
        X : array-like
            (n, features) context of each row's city; NaN where a figure is unknown.
        y : array-like
            (n,) uptake rate of each row (non-negative).
        exposure : array-like, optional
            (n,) people times months, in thousands: ``y * exposure`` is the row's count
            (default 1).
        service, band : array-like, optional
            (n,) service and band labels (default: one of each).
        city : array-like, optional
            (n,) city labels: folds keep a city's rows together, and the city effect is learnt
            across services (default: each row its own city).
        country : array-like, optional
            (n,) country labels for the country effects (default: none).

        Returns
        -------
        PooledUptakeModel
            The fitted model.
        """
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=float, y_numeric=True)
        if (y < 0).any():
            raise ValueError("uptake rates cannot be negative")
        n = len(y)
        exposure = np.ones(n) if exposure is None else np.asarray(exposure, dtype=float)
        service = np.zeros(n, dtype=int) if service is None else np.asarray(service)
        band = np.zeros(n, dtype=int) if band is None else np.asarray(band)
        city = np.arange(n) if city is None else np.asarray(city)
        self.services_, s_of = np.unique(service, return_inverse=True)
        self.bands_, g_of = np.unique(band, return_inverse=True)
        with np.errstate(invalid="ignore"), _quiet():
            self.mean_ = np.nanmean(X, axis=0)
            self.scale_ = np.nanstd(X, axis=0)
        self.mean_ = np.where(np.isfinite(self.mean_), self.mean_, 0.0)
        self.scale_ = np.where(np.isfinite(self.scale_) & (self.scale_ > 1e-12), self.scale_, 0.0)
        z = self._standardise(X)
        log_y = np.log(y + _FLOOR)
        count = y * exposure
        rows = _Rows(z, log_y, s_of.ravel(), g_of.ravel(), len(self.services_), len(self.bands_))
        for j in self.mostly_shared:
            if 0 <= int(j) < X.shape[1]:
                rows.factor[int(j)] = float(self.shared_factor)
        # First pass with a guess of the variance between cities, then its estimate.
        tau2 = 0.05
        alpha_mid = float(np.median(self.alphas))
        for _ in range(2):
            weight = 1.0 / (1.0 / (count + 0.5) + tau2)
            levels, slopes, _ = rows.solve(weight, alpha_mid, self.alpha_shared)
            resid = log_y - rows.predict(levels, slopes)
            poisson = float(np.average(1.0 / (count + 0.5), weights=weight))
            tau2 = max(0.005, float(np.average(resid**2, weights=weight)) - poisson)
        self.tau2_ = tau2
        weight = 1.0 / (1.0 / (count + 0.5) + tau2)
        folds = city_folds(city, self.cv, self.random_state)
        n_folds = int(folds.max()) + 1
        # The normal equations of each fold once; a fit without fold k is the total less fold k.
        gram_fold, rhs_fold = rows.normal(weight, folds, n_folds)
        gram_all, rhs_all = gram_fold.sum(axis=0), rhs_fold.sum(axis=0)
        c = X.shape[1]
        optional = np.zeros(c, dtype=bool)
        optional[[int(j) for j in self.optional if 0 <= int(j) < c]] = True
        candidates = {"with": np.ones(c, dtype=bool)}
        if optional.any():
            candidates["without"] = ~optional
        errors: dict[str, dict[float, float]] = {}
        best, best_error, best_folds, best_keep = alpha_mid, np.inf, None, candidates["with"]
        self.set_errors_ = {}
        for name, keep in candidates.items():
            errors[name] = {}
            for alpha in self.alphas:
                if n_folds < 2:
                    break
                predicted = np.empty(n)
                fold_fits = []
                for k in range(n_folds):
                    lv, sl, _ = rows.solve_normal(
                        gram_all - gram_fold[k],
                        rhs_all - rhs_fold[k],
                        alpha,
                        self.alpha_shared,
                        keep=keep,
                    )
                    held = folds == k
                    predicted[held] = rows.predict(lv, sl, held)
                    fold_fits.append((lv, sl))
                error = float(np.average((log_y - predicted) ** 2, weights=weight))
                errors[name][float(alpha)] = error
                # Without the optional columns the model is simpler: it wins unless they
                # lower the error by more than ``optional_margin``.
                bar = best_error * (1 + self.optional_margin) if name == "without" else best_error
                if error < bar - 1e-12:
                    best, best_error, best_folds, best_keep = float(alpha), error, fold_fits, keep
            self.set_errors_[name] = min(errors[name].values()) if errors[name] else np.nan
        self.uses_optional_ = bool(optional.any() and best_keep[optional].all())
        self.cv_errors_ = errors["with" if self.uses_optional_ or not optional.any() else "without"]
        self.alpha_ = best
        self.levels_, self.slopes_, self.shared_ = rows.solve_normal(
            gram_all, rhs_all, best, self.alpha_shared, keep=best_keep
        )
        fixed = rows.predict(self.levels_, self.slopes_)
        codes = _Codes(s_of.ravel(), city, country)
        effects = _Effects.learn(log_y - fixed, weight, codes, np.ones(n, dtype=bool))
        self.country_effects_, self.city_effects_ = effects.country, effects.city
        self.effect_variances_ = effects.variances
        # Out-of-fold predictions with every part (fixed and random effects) refitted per fold.
        self.oof_log_pred_ = np.full(n, np.nan)
        if best_folds is not None:
            for k, (lv, sl) in enumerate(best_folds):
                train = folds != k
                fold_fixed = rows.predict(lv, sl)
                fold_effects = _Effects.learn(log_y - fold_fixed, weight, codes, train)
                held = ~train
                self.oof_log_pred_[held] = fold_fixed[held] + fold_effects.lookup(
                    self.services_[s_of.ravel()[held]],
                    None,  # the held-out city's own effect is what nobody can know
                    None if country is None else np.asarray(country)[held],
                    self.services_,
                )
        self.oof_service_ = s_of.ravel()
        return self

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        safe = np.where(self.scale_ > 0, self.scale_, 1.0)
        z = (X - self.mean_) / safe * (self.scale_ > 0)
        return np.where(np.isfinite(z), z, 0.0)

    def predict_log(
        self,
        X: np.ndarray,
        *,
        service: np.ndarray | None = None,
        band: np.ndarray | None = None,
        city: np.ndarray | None = None,
        country: np.ndarray | None = None,
        effects: bool = True,
    ) -> np.ndarray:
        """Log uptake rate of each row (see ``predict``)."""
        check_is_fitted(self, "levels_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=float)
        n = len(X)
        service = np.full(n, self.services_[0]) if service is None else np.asarray(service)
        band = np.full(n, self.bands_[0]) if band is None else np.asarray(band)
        s_of = _index_of(self.services_, service, "service")
        g_of = _index_of(self.bands_, band, "band")
        z = self._standardise(X)
        out = self.levels_[s_of, g_of] + np.einsum("nc,nc->n", z, self.slopes_[s_of])
        if effects:
            effects_ = _Effects(self.country_effects_, self.city_effects_, self.effect_variances_)
            out = out + effects_.lookup(service, city, country, self.services_)
        return out

    def predict(
        self,
        X: np.ndarray,
        *,
        service: np.ndarray | None = None,
        band: np.ndarray | None = None,
        city: np.ndarray | None = None,
        country: np.ndarray | None = None,
    ) -> np.ndarray:
        """Uptake rate of each row (the exponent of the log prediction, no smearing).

        Parameters
        ----------
        X : array-like
            (n, features) context.
        service, band : array-like, optional
            Labels seen in ``fit`` (default: the first of each).
        city, country : array-like, optional
            Labels whose random effects apply (unknown ones add nothing).

        Returns
        -------
        ndarray
            (n,) predicted rates.
        """
        log = self.predict_log(X, service=service, band=band, city=city, country=country)
        return np.maximum(np.exp(log) - _FLOOR, 0.0)

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.target_tags.positive_only = True
        return tags


class _quiet:
    """Silence numpy's warning about an all-NaN column (a figure no pilot city reports)."""

    def __enter__(self) -> None:
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", category=RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._catch.__exit__(*exc)


def _index_of(labels: np.ndarray, values: np.ndarray, what: str) -> np.ndarray:
    index = np.searchsorted(labels, values)
    index = np.clip(index, 0, len(labels) - 1)
    if (labels[index] != values).any():
        unknown = values[labels[index] != values][0]
        raise ValueError(f"unknown {what} {unknown!r}: not seen in fit")
    return index


class _Rows:
    """The design of every row, with the per-service normal equations built for any weights."""

    def __init__(
        self, z: np.ndarray, y: np.ndarray, s_of: np.ndarray, g_of: np.ndarray, S: int, G: int
    ) -> None:
        n, c = z.shape
        self.z, self.s_of, self.g_of, self.S, self.G, self.c = z, s_of, g_of, S, G, c
        self.factor = np.ones(c)
        self.p = G + c
        design = np.zeros((n, self.p))
        design[np.arange(n), g_of] = 1.0
        design[:, G:] = z
        self.design, self.y = design, y

    def normal(
        self, weight: np.ndarray, fold: np.ndarray | None = None, n_folds: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gram matrices (folds, S, p, p) and right-hand sides (folds, S, p) of each cell."""
        S, p = self.S, self.p
        fold = np.zeros(len(self.y), dtype=int) if fold is None else np.asarray(fold)
        key = fold * S + self.s_of
        order = np.argsort(key, kind="stable")
        bounds = np.searchsorted(key[order], np.arange(n_folds * S + 1))
        gram = np.zeros((n_folds * S, p, p))
        rhs = np.zeros((n_folds * S, p))
        for cell in range(n_folds * S):
            rows = order[bounds[cell] : bounds[cell + 1]]
            if rows.size == 0:
                continue
            x = self.design[rows]
            xw = x * weight[rows, None]
            gram[cell] = xw.T @ x
            rhs[cell] = xw.T @ self.y[rows]
        return gram.reshape(n_folds, S, p, p), rhs.reshape(n_folds, S, p)

    def solve(
        self, weight: np.ndarray, alpha: float, alpha_shared: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Levels (S, G), slopes (S, c) and shared effects (c,) for these row weights."""
        gram, rhs = self.normal(weight)
        return self.solve_normal(gram[0], rhs[0], alpha, alpha_shared)

    def solve_normal(
        self,
        gram: np.ndarray,
        rhs: np.ndarray,
        alpha: float,
        alpha_shared: float,
        keep: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Levels, slopes and shared effects from the normal equations of each service.

        With ``keep``, only those context columns enter; the others get a slope of 0.
        """
        if keep is not None and not keep.all():
            G = self.G
            index = np.concatenate([np.arange(G), G + np.flatnonzero(keep)])
            levels, part, part_shared = self._solve(
                gram[:, index][:, :, index],
                rhs[:, index],
                alpha,
                alpha_shared,
                int(keep.sum()),
                self.factor[keep],
            )
            slopes = np.zeros((self.S, self.c))
            slopes[:, keep] = part
            shared = np.zeros(self.c)
            shared[keep] = part_shared
            return levels, slopes, shared
        return self._solve(gram, rhs, alpha, alpha_shared, self.c, self.factor)

    def _solve(
        self,
        gram: np.ndarray,
        rhs: np.ndarray,
        alpha: float,
        alpha_shared: float,
        c: int,
        factor: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        S, G = self.S, self.G
        # Each column's deviation penalty: alpha, times its factor (larger: more shared).
        a = np.full(c, float(alpha)) * (1.0 if factor is None else factor)
        penalty = np.concatenate([np.full(G, _LEVEL_RIDGE), a])
        gram = gram + np.diag(penalty)[None]
        if c == 0:
            theta = np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]
            return theta[:, :G], np.zeros((S, 0)), np.zeros(0)
        # Each service's slopes are shrunk towards the shared ones with weights a; the shared
        # ones follow from the Schur complement of the services' blocks (exact joint solution).
        inv = np.linalg.inv(gram)  # (S, p, p)
        k_rhs = np.einsum("spq,sq->sp", inv, rhs)  # K_s r_s
        k_e = inv[:, :, G:]  # K_s E  (S, p, c)
        system = np.diag(S * a + alpha_shared) - a[:, None] * k_e[:, G:, :].sum(axis=0) * a
        shared = np.linalg.solve(system, a * k_rhs[:, G:].sum(axis=0))
        theta = k_rhs + np.einsum("spc,c->sp", k_e, a * shared)
        return theta[:, :G], theta[:, G:], shared

    def predict(
        self, levels: np.ndarray, slopes: np.ndarray, rows: np.ndarray | None = None
    ) -> np.ndarray:
        s_of, g_of, z = self.s_of, self.g_of, self.z
        if rows is not None:
            s_of, g_of, z = s_of[rows], g_of[rows], z[rows]
        return levels[s_of, g_of] + np.einsum("nc,nc->n", z, slopes[s_of])


class _Codes:
    """Integer codes of each row's service, city and country, so effects group by numbers."""

    def __init__(self, s_of: np.ndarray, city: np.ndarray, country: np.ndarray | None) -> None:
        self.s_of = s_of
        self.city_labels, city_of = np.unique(np.asarray(city).astype(str), return_inverse=True)
        self.city_of = city_of.ravel()
        self.country_labels, self.country_of = None, None
        if country is not None:
            labels, of = np.unique(np.asarray(country).astype(str), return_inverse=True)
            self.country_labels, self.country_of = labels, of.ravel()


class _Effects:
    """Random effects of countries (shared and per service) and cities, by moments."""

    def __init__(self, country: dict, city: dict, variances: dict[str, float]) -> None:
        self.country, self.city, self.variances = country, city, variances

    @classmethod
    def learn(
        cls, resid: np.ndarray, weight: np.ndarray, codes: "_Codes", keep: np.ndarray
    ) -> "_Effects":
        # One residual per (service, city): the weighted mean over its bands.
        n_city = len(codes.city_labels)
        pair_key = (codes.s_of * n_city + codes.city_of)[keep]
        pairs, pair_of = np.unique(pair_key, return_inverse=True)
        pair_of = pair_of.ravel()
        w, res = weight[keep], resid[keep]
        w_sum = np.bincount(pair_of, weights=w, minlength=len(pairs))
        r = np.bincount(pair_of, weights=w * res, minlength=len(pairs)) / np.maximum(w_sum, 1e-300)
        p_service = pairs // n_city
        p_city = codes.city_labels[pairs % n_city]
        variances = {"country": 0.0, "country_service": 0.0, "city": 0.0}
        country_fx: dict = {}
        if codes.country_of is not None:
            first = np.zeros(len(pairs), dtype=int)
            first[pair_of[::-1]] = np.arange(len(pair_of))[::-1]
            p_country = codes.country_of[keep][first]
            country_fx, variances, r = _country_effects(
                r, p_service, p_country, codes.country_labels, variances
            )
        variances["residual"] = float(np.var(r)) if len(r) else 0.0
        city_fx, variances = _city_effects(r, p_city, variances)
        return cls(country_fx, city_fx, variances)

    def lookup(
        self,
        service_labels: np.ndarray,
        city: np.ndarray | None,
        country: np.ndarray | None,
        services: np.ndarray,
    ) -> np.ndarray:
        """Sum of the known effects of each row (service labels, city and country labels)."""
        n = len(service_labels)
        out = np.zeros(n)
        codes = np.searchsorted(services, service_labels)
        if country is not None and self.country:
            country = np.asarray(country).astype(str)
            shared = self.country.get("shared", {})
            own = self.country.get("service", {})
            out += np.array([shared.get(k, 0.0) for k in country])
            pairs = zip(codes.tolist(), country.tolist(), strict=True)
            out += np.array([own.get((s, k), 0.0) for s, k in pairs])
        if city is not None and self.city:
            out += np.array([self.city.get(c, 0.0) for c in np.asarray(city).astype(str)])
        return out


def _country_effects(
    r: np.ndarray,
    service: np.ndarray,
    country_of: np.ndarray,
    country_labels: np.ndarray,
    variances: dict[str, float],
) -> tuple[dict, dict[str, float], np.ndarray]:
    """A country's effect shared by services, and each service's departure from it, shrunk."""
    n_country = len(country_labels)
    cells = service * n_country + country_of
    cell_labels, cell_of, n_cell = np.unique(cells, return_inverse=True, return_counts=True)
    cell_of = cell_of.ravel()
    m_cell = np.bincount(cell_of, weights=r) / n_cell
    c_service = cell_labels // n_country
    c_country = country_labels[cell_labels % n_country]
    n, n_cells = len(r), len(cell_labels)
    if n <= n_cells or n_cells < 2:
        return {}, variances, r
    within = float(((r - m_cell[cell_of]) ** 2).sum() / (n - n_cells))
    countries, k_of, s_per_k = np.unique(c_country, return_inverse=True, return_counts=True)
    k_of = k_of.ravel()
    u_raw = np.bincount(k_of, weights=m_cell) / s_per_k
    dev = m_cell - u_raw[k_of]
    # Service-country deviations: their spread less what sampling alone would give.
    multi = s_per_k[k_of] > 1
    if multi.sum() > 1:
        correction = s_per_k[k_of][multi] / (s_per_k[k_of][multi] - 1)
        tau2 = float(np.mean(dev[multi] ** 2 * correction - within / n_cell[multi]))
    else:
        tau2 = float(np.mean(m_cell**2 - within / n_cell))
    tau2 = max(tau2, 0.0)
    if len(countries) > 1:
        noise_u = np.bincount(k_of, weights=tau2 + within / n_cell) / s_per_k**2
        omega2 = max(float(np.var(u_raw, ddof=1) - noise_u.mean()), 0.0)
    else:
        omega2 = 0.0
    noise_u = np.bincount(k_of, weights=tau2 + within / n_cell) / s_per_k**2
    u = u_raw * (omega2 / (omega2 + noise_u)) if omega2 > 0 else np.zeros(len(countries))
    v = (m_cell - u[k_of]) * (tau2 / (tau2 + within / n_cell)) if tau2 > 0 else 0 * m_cell
    effects = {
        "shared": dict(zip(countries.tolist(), u.tolist(), strict=True)),
        "service": {
            (int(s), str(k)): float(x) for s, k, x in zip(c_service, c_country, v, strict=True)
        },
    }
    variances = {**variances, "country": omega2, "country_service": tau2}
    applied = u[k_of][cell_of] + (v[cell_of] if np.ndim(v) else 0.0)
    return effects, variances, r - applied


def _city_effects(
    r: np.ndarray, city: np.ndarray, variances: dict[str, float]
) -> tuple[dict, dict[str, float]]:
    """A city's own effect across the services it piloted, shrunk by how much cities differ."""
    labels, of, counts = np.unique(city, return_inverse=True, return_counts=True)
    of = of.ravel()
    if len(r) <= len(labels) or len(labels) < 2:
        return {}, variances
    means = np.bincount(of, weights=r) / counts
    within = float(((r - means[of]) ** 2).sum() / (len(r) - len(labels)))
    between = max(float(np.mean(means**2 - within / counts)), 0.0)
    if between <= 1e-12:
        return {}, {**variances, "city": 0.0}
    shrunk = means * between / (between + within / counts)
    return dict(zip(labels.tolist(), shrunk.tolist(), strict=True)), {**variances, "city": between}
