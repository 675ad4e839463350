"""The evaluation's input tables: their columns, loading and validation.

``cities.csv`` (one row per city)
    ``city_id``
        The city's identifier, unique (text).
    ``population``
        Inhabitants, a positive number (required for every city).
    ``share_16-24``, ``share_25-54``, ``share_55-74``, ``share_75+``
        Population share of each federation segment (0 to 1 of the whole population; they may sum
        to less than 1 because children are in no segment; rounding up to a sum of 1.005 is
        accepted, percentages are refused with a hint). Either all four columns or none; a
        city may leave all four empty, and is then judged from its context alone.
    any other numeric column
        A context figure (internet use, digital skills, e-government index, ...), named as in
        ``carmen/data/eu_cities.csv`` where the figure exists there. Empty cells are allowed: a
        city missing a figure is judged on the figures it has. Text columns (``country``, ``name``)
        are kept but not used as context.

``observations.csv`` (long form, one row per cell)
    ``city_id``
        A ``city_id`` of ``cities.csv``.
    ``service``
        The federation-wide service identity (the template); read in lower case without
        surrounding space (with a warning when that changes a name).
    ``period``
        ``YYYY-MM`` (``YYYY-M`` is read as the same month).
    ``segment``
        One of ``16-24``, ``25-54``, ``55-74``, ``75+``, ``unknown`` or ``all``.
    ``channel``
        One of ``web``, ``app``, ``sms``, ``email``, ``phone``, ``counter`` or ``all``.
    ``measure``
        At least ``citizens`` (distinct citizens who used the service in the period),
        ``submitted``, ``completed``, ``completed_within_sla``, ``satisfaction_sum``,
        ``satisfaction_count``; the duration histograms ``time_to_acknowledge_h_le_1`` ...
        ``time_to_acknowledge_h_gt_720`` and ``time_to_complete_h_le_1`` ...
        ``time_to_complete_h_gt_720`` are used when present; other measures are ignored.
    ``value``
        A non-negative number, or empty for a suppressed cell. A suppressed cell, empty or absent,
        is missing: it is never read as zero.

A city has piloted a service when it has observations for it.
"""

import re
from pathlib import Path

import numpy as np
import pandas as pd

from federation.protocol.vocabulary import AgeBand, Channel

SEGMENTS: tuple[str, ...] = tuple(b.value for b in AgeBand if b is not AgeBand.UNKNOWN)
"""The population segments that carry a population share (the age bands)."""

OBSERVED_SEGMENTS: tuple[str, ...] = (*SEGMENTS, AgeBand.UNKNOWN.value)
CHANNELS: tuple[str, ...] = tuple(c.value for c in Channel)
SHARE_COLUMNS: tuple[str, ...] = tuple(f"share_{s}" for s in SEGMENTS)
CITIES_REQUIRED: tuple[str, ...] = ("city_id", "population")
OBSERVATIONS_COLUMNS: tuple[str, ...] = (
    "city_id",
    "service",
    "period",
    "segment",
    "channel",
    "measure",
    "value",
)
EUROPE_REQUIRED: tuple[str, ...] = ("city", "country", "population")
# Columns of a city table that describe a city but are not context for the judgement.
NOT_CONTEXT: frozenset[str] = frozenset({"city_id", "population", "population_year"})
# Columns of a city table that are always text, whatever their cells look like.
TEXT_COLUMNS: frozenset[str] = frozenset({"city", "country", "name"})
_PERIOD = re.compile(r"^(\d{4})-(0?[1-9]|1[0-2])$")  # YYYY-MM, or YYYY-M as spreadsheets write it
# Shares rounded to 4 decimals can sum to a little over 1; more than this is an error.
SHARE_SUM_TOLERANCE = 1.005


class InputError(ValueError):
    """An input table is unusable; the message names the file, the row and the column.

    Parameters
    ----------
    source : str
        The file name (or table name for a DataFrame).
    problem : str
        What is wrong, in words a user can act on.
    row : int or None
        The data row, counted from 1 for the first row after the header (``None`` for the whole
        file or the header).
    column : str or None
        The column at fault, if any.
    """

    def __init__(
        self, source: str, problem: str, *, row: int | None = None, column: str | None = None
    ) -> None:
        self.source, self.problem, self.row, self.column = source, problem, row, column
        where = [source]
        if row is not None:
            where.append(f"row {row} (line {row + 1})")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {problem}")


def _read_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV as text cells, raising InputError for a missing or empty file."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise InputError(name, f"no such file: {path}")
    if path.stat().st_size == 0 or not path.read_text(encoding="utf-8", errors="replace").strip():
        raise InputError(name, "the file is empty (expected a header line and data rows)")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(name, f"not a readable CSV file: {exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.attrs["source"] = name
    return frame


def _source(frame: pd.DataFrame, default: str) -> str:
    return str(frame.attrs.get("source", default))


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], source: str) -> None:
    if frame.empty and len(frame.columns) == 0:
        raise InputError(source, "the table is empty")
    for column in columns:
        if column not in frame.columns:
            found = ", ".join(map(str, frame.columns)) or "none"
            raise InputError(source, f"missing column (found: {found})", column=column)
    if len(frame) == 0:
        raise InputError(source, "the table has a header but no data rows")


def _blank(series: pd.Series) -> np.ndarray:
    """True where a cell is missing: NaN, None or blank text."""
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        text = series.astype("string").str.strip()
        return (series.isna() | (text == "")).to_numpy(dtype=bool)
    return series.isna().to_numpy(dtype=bool)


def _stripped_category(series: pd.Series) -> pd.Series:
    """The column as a categorical of stripped text (stripping the few categories, not the rows)."""
    cat = series.astype(str).astype("category") if series.dtype != "category" else series
    categories = cat.cat.categories.astype(str)
    stripped = categories.str.strip()
    if (stripped != categories).any() or cat.cat.categories.dtype != object:
        if stripped.is_unique:
            cat = cat.cat.rename_categories(list(stripped))
        else:
            cat = cat.astype(str).str.strip().astype("category")
    return cat.reset_index(drop=True)


def _code_of(cat: pd.Series, value: str) -> int:
    """The category code of a value, or -2 when absent (never equal to a real code or NaN's -1)."""
    categories = list(cat.cat.categories.astype(str))
    return categories.index(value) if value in categories else -2


def _numeric(
    frame: pd.DataFrame, column: str, source: str, *, required: bool, minimum: float | None = None
) -> pd.Series:
    """Convert a column to float, raising InputError at the first bad cell."""
    raw = frame[column]
    blank = _blank(raw)
    values = pd.to_numeric(raw.where(~blank, None), errors="coerce").astype(float)
    bad = values.isna().to_numpy() & ~blank
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(source, f"not a number: {raw.iloc[i]!r}", row=i + 1, column=column)
    if required and blank.any():
        i = int(np.flatnonzero(blank)[0])
        raise InputError(
            source, "missing value (a value is required here)", row=i + 1, column=column
        )
    if minimum is not None:
        low = (values < minimum).to_numpy()
        if low.any():
            i = int(np.flatnonzero(low)[0])
            raise InputError(
                source,
                f"{values.iloc[i]:g} is below the minimum {minimum:g}",
                row=i + 1,
                column=column,
            )
    return values


def validate_cities(cities: pd.DataFrame, *, source: str | None = None) -> pd.DataFrame:
    """Check a cities table and return it typed: numeric context, float shares, text ids.

    Parameters
    ----------
    cities : DataFrame
        The cities table (see the module docstring for its columns).
    source : str, optional
        The name used in error messages (default: the file name it was read from, or
        ``cities.csv``).

    Returns
    -------
    DataFrame
        A copy with ``city_id`` as text and every other non-text column as float.

    Raises
    ------
    InputError
        Naming the file, row and column of the first problem found.
    """
    source = source or _source(cities, "cities.csv")
    _require_columns(cities, CITIES_REQUIRED, source)
    out = pd.DataFrame(index=range(len(cities)))
    ids = cities["city_id"].reset_index(drop=True)
    blank = _blank(ids)
    if blank.any():
        i = int(np.flatnonzero(blank)[0])
        raise InputError(source, "missing city_id", row=i + 1, column="city_id")
    ids = ids.astype(str).str.strip()
    dup = ids.duplicated().to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputError(source, f"duplicate city_id {ids.iloc[i]!r}", row=i + 1, column="city_id")
    out["city_id"] = ids.to_numpy()
    frame = cities.reset_index(drop=True)
    population = _numeric(frame, "population", source, required=True)
    if (population <= 0).any():
        i = int(np.flatnonzero((population <= 0).to_numpy())[0])
        raise InputError(
            source, "population must be a positive number", row=i + 1, column="population"
        )
    out["population"] = population.to_numpy()
    shares = [c for c in frame.columns if str(c).startswith("share_")]
    for column in shares:
        if column not in SHARE_COLUMNS:
            segment = column.removeprefix("share_")
            raise InputError(
                source,
                f"unknown segment {segment!r} (segments: {', '.join(SEGMENTS)})",
                column=column,
            )
    if shares:
        for column in SHARE_COLUMNS:
            if column not in shares:
                raise InputError(
                    source, "missing column (give all four segment shares or none)", column=column
                )
        # A city may lack its shares (the hub may not know them yet), but not half of them.
        given = np.column_stack([~_blank(frame[c]) for c in SHARE_COLUMNS])
        partial = given.any(axis=1) & ~given.all(axis=1)
        if partial.any():
            i = int(np.flatnonzero(partial)[0])
            column = SHARE_COLUMNS[int(np.flatnonzero(~given[i])[0])]
            raise InputError(
                source,
                "missing value (give all four segment shares of a city or none)",
                row=i + 1,
                column=column,
            )
        values = {c: _numeric(frame, c, source, required=False, minimum=0.0) for c in SHARE_COLUMNS}
        total = pd.DataFrame(values).sum(axis=1).to_numpy()
        for column in SHARE_COLUMNS:
            above = (values[column] > 1).to_numpy()
            if above.any():
                i = int(np.flatnonzero(above)[0])
                raise InputError(source, _share_problem(total[i]), row=i + 1, column=column)
            out[column] = values[column].to_numpy()
        over = total > SHARE_SUM_TOLERANCE
        if over.any():
            i = int(np.flatnonzero(over)[0])
            raise InputError(source, _share_problem(total[i]), row=i + 1)
    for column in frame.columns:
        if column in out.columns or column == "city_id":
            continue
        raw = frame[column]
        blank = _blank(raw)
        values = pd.to_numeric(raw.where(~blank, None), errors="coerce")
        text = (values.isna().to_numpy() & ~blank).any() and not (~blank & values.notna()).any()
        if column in TEXT_COLUMNS or text:
            out[column] = raw.astype(str).to_numpy()  # a text column (country, name): kept as is
        else:
            out[column] = _numeric(frame, column, source, required=False).to_numpy()
    return out


def _share_problem(total: float) -> str:
    """What is wrong with shares summing to ``total``, with a hint when they look like percent."""
    if 1.5 < total <= 100.5:
        return (
            f"the segment shares sum to {total:.4g}: they look like percentages (0-100); "
            "give each share as a fraction of 1 (12.5% is 0.125)"
        )
    return (
        f"the segment shares sum to {total:.4f}, more than 1 (rounding up to "
        f"{SHARE_SUM_TOLERANCE:g} is accepted); a share must be between 0 and 1"
    )


def _warn(warnings: list[str] | None, message: str) -> None:
    if warnings is not None and message not in warnings:
        warnings.append(message)


def validate_observations(
    observations: pd.DataFrame,
    *,
    city_ids: pd.Series | None = None,
    source: str | None = None,
    cities_source: str = "cities.csv",
    warnings: list[str] | None = None,
) -> pd.DataFrame:
    """Check an observations table and return it typed, with categorical keys and float values.

    Parameters
    ----------
    observations : DataFrame
        The long-form observations (see the module docstring for its columns).
    city_ids : Series, optional
        The known city ids; an observation of any other city is an error.
    source : str, optional
        The name used in error messages (default: the file name, or ``observations.csv``).
    cities_source : str
        The cities file's name, for the message about an unknown city.
    warnings : list of str, optional
        Receives what was repaired rather than refused: exact duplicate rows dropped, service
        names normalised (case, surrounding space), no ``citizens`` measure at all.

    Returns
    -------
    DataFrame
        Columns ``city_id``, ``service``, ``period``, ``segment``, ``channel``, ``measure``
        (categorical) and ``value`` (float, NaN where suppressed).

    Raises
    ------
    InputError
        Naming the file, row and column of the first problem found.
    """
    source = source or _source(observations, "observations.csv")
    _require_columns(observations, OBSERVATIONS_COLUMNS, source)
    frame = observations.reset_index(drop=True)
    out = pd.DataFrame(index=frame.index)
    for column in ("city_id", "service", "period", "segment", "channel", "measure"):
        cat = _stripped_category(frame[column])
        blank = frame[column].isna().to_numpy() | (cat.cat.codes.to_numpy() == _code_of(cat, ""))
        if blank.any():
            i = int(np.flatnonzero(blank)[0])
            raise InputError(source, "missing value", row=i + 1, column=column)
        out[column] = cat
    checks = {
        "segment": ((*OBSERVED_SEGMENTS, "all"), "segment"),
        "channel": ((*CHANNELS, "all"), "channel"),
    }
    for column, (allowed, word) in checks.items():
        categories = out[column].cat.categories.astype(str)
        unknown = [c for c in categories if c not in allowed]
        if unknown:
            i = int(np.flatnonzero(out[column].astype(str).isin(unknown).to_numpy())[0])
            raise InputError(
                source,
                f"unknown {word} {out[column].iloc[i]!r} (expected one of {', '.join(allowed)})",
                row=i + 1,
                column=column,
            )
    periods = out["period"].cat.categories.astype(str)
    bad_periods = [p for p in periods if not _PERIOD.match(p)]
    if bad_periods:
        i = int(np.flatnonzero(out["period"].astype(str).isin(bad_periods).to_numpy())[0])
        raise InputError(
            source, f"period {out['period'].iloc[i]!r} is not YYYY-MM", row=i + 1, column="period"
        )
    padded = [_PERIOD.sub(lambda m: f"{m[1]}-{int(m[2]):02d}", p) for p in periods]
    if padded != list(periods):  # 2025-3 is March 2025, as a spreadsheet writes it
        out["period"] = out["period"].astype(str).map(dict(zip(periods, padded, strict=True)))
        out["period"] = out["period"].astype("category")
    names = out["service"].cat.categories.astype(str)
    normal = [" ".join(n.split()).lower() for n in names]
    if normal != list(names):
        changed = [f"{n!r} as {m!r}" for n, m in zip(names, normal, strict=True) if n != m]
        _warn(
            warnings,
            f"{source}: service names normalised (case, spaces): read "
            + ", ".join(changed[:5])
            + (f" and {len(changed) - 5} more" if len(changed) > 5 else ""),
        )
        out["service"] = out["service"].astype(str).map(dict(zip(names, normal, strict=True)))
        out["service"] = out["service"].astype("category")
    if city_ids is not None:
        known = set(map(str, city_ids))
        unknown = [c for c in out["city_id"].cat.categories.astype(str) if c not in known]
        if unknown:
            i = int(np.flatnonzero(out["city_id"].astype(str).isin(unknown).to_numpy())[0])
            raise InputError(
                source,
                f"city {out['city_id'].iloc[i]!r} is not in {cities_source}",
                row=i + 1,
                column="city_id",
            )
    if pd.api.types.is_numeric_dtype(frame["value"]):
        values = frame["value"].astype(float)
        negative = (values < 0).to_numpy()
        if negative.any():
            i = int(np.flatnonzero(negative)[0])
            raise InputError(source, "a count cannot be negative", row=i + 1, column="value")
    else:
        values = _numeric(frame, "value", source, required=False, minimum=0.0)
    out["value"] = values.to_numpy(dtype=float)
    keys = ["city_id", "service", "period", "segment", "channel", "measure"]
    dup = out.duplicated(keys).to_numpy()
    if dup.any():
        # The same row twice (an export appended twice) says nothing new: drop it. Two rows that
        # disagree on one cell cannot both be right, so those are still refused.
        # A suppressed cell twice is a duplicate too (NaN equals NaN here, as -1, never a count).
        exact = out.assign(_v=out["value"].fillna(-1.0)).duplicated([*keys, "_v"]).to_numpy()
        conflicting = dup & ~exact
        if conflicting.any():
            i = int(np.flatnonzero(conflicting)[0])
            raise InputError(
                source,
                "duplicate observation with another value (same city, service, period, "
                "segment, channel, measure)",
                row=i + 1,
            )
        first = int(np.flatnonzero(exact)[0])
        _warn(
            warnings,
            f"{source}: {int(exact.sum())} exact duplicate rows dropped (the first at row "
            f"{first + 1})",
        )
        out = out[~exact].reset_index(drop=True)
    # Compared on the categorical codes: a set of millions of rows took seconds.
    if not (out["measure"] == "citizens").any():
        _warn(
            warnings,
            f"{source}: no 'citizens' measure: uptake (citizens per 1,000 inhabitants) is unknown "
            "for every pilot, so no service can be judged",
        )
    return out


def load_tables(
    cities_path: str | Path,
    observations_path: str | Path,
    *,
    warnings: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and validate ``cities.csv`` and ``observations.csv``.

    Parameters
    ----------
    cities_path, observations_path : str or Path
        The two CSV files (columns in the module docstring).
    warnings : list of str, optional
        Receives what was repaired rather than refused (see ``validate_observations``).

    Returns
    -------
    tuple of DataFrame
        The typed cities and observations tables.

    Raises
    ------
    InputError
        Naming the file, row and column of the first problem found.
    """
    cities = validate_cities(_read_csv(cities_path))
    observations_raw = _read_csv(observations_path)
    observations = validate_observations(
        observations_raw,
        city_ids=cities["city_id"],
        cities_source=Path(cities_path).name,
        warnings=warnings,
    )
    return cities, observations


def validate_europe(table: pd.DataFrame, *, source: str | None = None) -> pd.DataFrame:
    """Check a Europe-wide city table (the columns of ``carmen/data/eu_cities.csv``).

    Parameters
    ----------
    table : DataFrame
        ``city``, ``country``, ``population`` and numeric context columns.
    source : str, optional
        The name used in error messages.

    Returns
    -------
    DataFrame
        A typed copy.

    Raises
    ------
    InputError
        Naming the file, row and column of the first problem found.
    """
    source = source or _source(table, "europe.csv")
    _require_columns(table, EUROPE_REQUIRED, source)
    frame = table.reset_index(drop=True)
    out = pd.DataFrame({"city": frame["city"].astype(str), "country": frame["country"].astype(str)})
    population = _numeric(frame, "population", source, required=True)
    if (population <= 0).any():
        i = int(np.flatnonzero((population <= 0).to_numpy())[0])
        raise InputError(
            source, "population must be a positive number", row=i + 1, column="population"
        )
    out["population"] = population.to_numpy()
    for column in frame.columns:
        if column in out.columns:
            continue
        out[column] = _numeric(frame, column, source, required=False).to_numpy()
    return out


def load_europe(path: str | Path) -> pd.DataFrame:
    """Read and validate a Europe-wide city table such as ``carmen/data/eu_cities.csv``.

    Parameters
    ----------
    path : str or Path
        The CSV file.

    Returns
    -------
    DataFrame
        The typed table.
    """
    return validate_europe(_read_csv(path))


def context_columns(cities: pd.DataFrame) -> list[str]:
    """Names of the numeric context columns of a validated city table.

    Parameters
    ----------
    cities : DataFrame
        A validated cities (or Europe) table.

    Returns
    -------
    list of str
        Every numeric column that is not an id, the population, its year or a segment share.
    """
    return [
        c
        for c in cities.columns
        if c not in NOT_CONTEXT
        and c not in SHARE_COLUMNS
        and c not in ("city", "country")
        and pd.api.types.is_numeric_dtype(cities[c])
    ]
