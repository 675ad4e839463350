"""Real European city figures (Eurostat, UN DESA), as described in carmen/data/README.md."""

import csv
from dataclasses import dataclass
from importlib import resources

CONTEXT_COLUMNS = (
    "internet_use_pct",
    "internet_use_55_74_pct",
    "internet_use_16_24_pct",
    "digital_skills_basic_pct",
    "egov_index_2018",
    "online_service_index_2018",
    "telecom_infrastructure_index_2018",
)
ATTRIBUTION = (
    "City figures: © European Union, Eurostat (CC BY 4.0); "
    "E-Government Development Index: UN DESA E-Government Survey 2018."
)


@dataclass(frozen=True)
class City:
    """One city of the table with its context figures."""

    name: str
    country: str
    population: int
    context: dict[str, float]


def load_cities() -> list[City]:
    """Every city of the table, in the table's order."""
    text = resources.files("carmen.data").joinpath("eu_cities.csv").read_text(encoding="utf-8")
    cities = []
    for row in csv.DictReader(text.splitlines()):
        context = {name: float(row[name]) for name in CONTEXT_COLUMNS if row.get(name)}
        cities.append(City(row["city"], row["country"], int(row["population"]), context))
    return cities


def find_city(name: str) -> City:
    """The city with this name (case-insensitive); raises LookupError naming close matches."""
    cities = load_cities()
    for city in cities:
        if city.name.casefold() == name.casefold():
            return city
    close = [c.name for c in cities if name.casefold() in c.name.casefold()][:5]
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise LookupError(f"{name!r} is not in the Eurostat city table{hint}")
