"""What a service costs and saves a city, and the uptake at which it pays for itself.

Each service template declares a ``[cost]`` table in its ``template.toml``::

    [cost]
    setup = 40000              # one-off cost of setting the service up in a city (EUR)
    monthly = 1500             # running cost per month: hosting, licences, staff time (EUR)
    amortisation_months = 36   # the set-up cost is spread over this many months
    saving_digital = 6.0       # what a request saves when it moves from counter or phone to digital

    [cost.request]             # cost of handling one request, per channel (EUR)
    web = 1.5
    phone = 7.5
    ...

A federation may override any figure for any service (the hub's ``EVALUATION_COSTS``), and one
run may override them again (``carmen evaluate --costs FILE``).

The break-even uptake of a city is the uptake (citizens per 1,000 inhabitants per month) at which
what the service saves each month equals what it costs each month::

    fixed  = setup / amortisation_months + monthly
    saving = requests_per_citizen * digital_share * saving_digital      (per citizen and month)
    break_even = 1000 * fixed / (population * saving)

so a large city reaches it with a small share of its inhabitants and a small one needs many.
"""

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

DIGITAL_CHANNELS = ("web", "app", "sms", "email")
ASSISTED_CHANNELS = ("phone", "counter")


@dataclass(frozen=True)
class CostModel:
    """The cost model of one service in one city (EUR).

    Parameters
    ----------
    setup : float
        One-off cost of setting the service up in a city.
    monthly : float
        Running cost per month.
    amortisation_months : float
        Months over which the set-up cost is spread.
    saving_digital : float or None
        What a request saves when it moves from counter or phone to a digital channel; by
        default the mean assisted handling cost less the mean digital one (``request``).
    request : dict of str to float
        Cost of handling one request, per channel.
    source : str
        Where these figures come from (a template, the hub, a file, the default).
    """

    setup: float = 40_000.0
    monthly: float = 1_500.0
    amortisation_months: float = 36.0
    saving_digital: float | None = None
    request: Mapping[str, float] = field(
        default_factory=lambda: {
            "web": 1.5,
            "app": 1.2,
            "sms": 2.0,
            "email": 2.5,
            "phone": 7.5,
            "counter": 11.0,
        }
    )
    source: str = "the default cost model"

    def __post_init__(self) -> None:
        if self.setup < 0 or self.monthly < 0:
            raise ValueError("setup and monthly costs cannot be negative")
        if self.amortisation_months <= 0:
            raise ValueError("amortisation_months must be positive")
        if self.saving_per_request <= 0:
            raise ValueError(
                "a request moving to a digital channel must save something "
                "(saving_digital, or phone and counter dearer than digital channels)"
            )

    @property
    def fixed_monthly(self) -> float:
        """Set-up spread over its months plus the running cost, per month."""
        return self.setup / self.amortisation_months + self.monthly

    @property
    def saving_per_request(self) -> float:
        """What one request saves when it is made digitally instead of at a counter or phone."""
        if self.saving_digital is not None:
            return float(self.saving_digital)
        assisted = [self.request[c] for c in ASSISTED_CHANNELS if c in self.request]
        digital = [self.request[c] for c in DIGITAL_CHANNELS if c in self.request]
        if not assisted or not digital:
            return 0.0
        return float(np.mean(assisted) - np.mean(digital))

    def break_even(
        self,
        population: np.ndarray,
        *,
        digital_share: float,
        requests_per_citizen: float,
    ) -> np.ndarray:
        """Break-even uptake of cities of these populations, citizens per 1,000 per month.

        Parameters
        ----------
        population : ndarray
            Inhabitants of each city.
        digital_share : float
            Share of the service's requests made on a digital channel (the pilots' median).
        requests_per_citizen : float
            Requests per citizen using the service in a month (the pilots' figure).

        Returns
        -------
        ndarray
            The uptake at which the monthly saving equals the monthly cost (inf when nothing
            is saved).
        """
        saving = requests_per_citizen * digital_share * self.saving_per_request
        population = np.asarray(population, dtype=float)
        with np.errstate(divide="ignore"):
            return np.where(saving > 0, 1000 * self.fixed_monthly / (population * saving), np.inf)

    def overridden(self, figures: Mapping[str, object], source: str) -> "CostModel":
        """A copy with some figures replaced (``request`` merged channel by channel)."""
        names = {f.name for f in fields(self)} - {"source"}
        unknown = set(figures) - names
        if unknown:
            raise ValueError(
                f"unknown cost figures {', '.join(sorted(unknown))} "
                f"(known: {', '.join(sorted(names))})"
            )
        changes: dict[str, object] = {}
        for key, value in figures.items():
            if key == "request":
                if not isinstance(value, Mapping):
                    raise ValueError("request must be a table of channel = cost")
                changes["request"] = {**self.request, **{k: float(v) for k, v in value.items()}}
            else:
                changes[key] = None if value is None else float(value)  # type: ignore[arg-type]
        return replace(self, **changes, source=source)

    def as_dict(self) -> dict[str, object]:
        """The figures as a plain dict, for the report."""
        return {
            "setup": self.setup,
            "monthly": self.monthly,
            "amortisation_months": self.amortisation_months,
            "saving_per_request": self.saving_per_request,
            "request": dict(self.request),
            "fixed_monthly": self.fixed_monthly,
            "source": self.source,
        }


def template_costs(folder: str | Path | None = None) -> dict[str, dict[str, object]]:
    """The ``[cost]`` table of every service template, by template name.

    Parameters
    ----------
    folder : str or Path, optional
        The folder holding one folder per template (default: the project's
        ``service_templates``).

    Returns
    -------
    dict
        Template name to its ``[cost]`` figures (templates without one are left out).
    """
    if folder is None:
        folder = Path(__file__).resolve().parents[1] / "service_templates"
    out: dict[str, dict[str, object]] = {}
    for path in sorted(Path(folder).glob("*/template.toml")):
        with path.open("rb") as handle:
            cost = tomllib.load(handle).get("cost")
        if cost:
            out[path.parent.name] = dict(cost)
    return out


def load_costs(path: str | Path) -> dict[str, dict[str, object]]:
    """Read a cost override file (TOML): one table per service, or ``[default]`` for all.

    Parameters
    ----------
    path : str or Path
        A TOML file such as::

            [default]
            monthly = 2000

            [issue-report]
            setup = 25000
            request = { phone = 9.0 }

    Returns
    -------
    dict
        Service (or ``default``) to its figures.
    """
    with Path(path).open("rb") as handle:
        data = tomllib.load(handle)
    for name, figures in data.items():
        if not isinstance(figures, dict):
            raise ValueError(f"{Path(path).name}: '{name}' must be a table of cost figures")
    return data


def cost_model(
    service: str,
    *,
    templates: Mapping[str, Mapping[str, object]],
    overrides: Mapping[str, Mapping[str, object]] | None = None,
    overrides_source: str = "the run's cost overrides",
) -> CostModel:
    """The cost model of one service: default, then its template, then the overrides.

    Parameters
    ----------
    service : str
        The service (its template's name).
    templates : mapping
        Each template's ``[cost]`` table (``template_costs()``).
    overrides : mapping, optional
        Per service (or ``default``) figures that replace the template's.
    overrides_source : str
        Where the overrides come from, named in the model's ``source``.

    Returns
    -------
    CostModel
        With ``source`` naming the last layer that set a figure.
    """
    model = CostModel()
    if service in templates:
        model = model.overridden(templates[service], f"template.toml of {service}")
    for key in ("default", service):
        if overrides and key in overrides:
            model = model.overridden(overrides[key], overrides_source)
    return model
