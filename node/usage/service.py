"""Usage segments: the node's own citizens clustered by how they use its services.

Only citizens who consented to profiling (`consent_profiling`) are clustered; their segment is
stored as a `usage` CitizenSegment (u1 the largest cluster, u2 the next...) that staff target
alerts by, and each cluster's figures are kept for the back office. Nothing of it leaves the node.
"""

from datetime import datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from evaluation.usage import CITIZEN_USAGE_FEATURES, CitizenUsageClustering
from node.cases.models import Case, Event, EventKind
from node.database import utcnow
from node.profiles.models import Citizen, CitizenSegment, SegmentKind
from node.usage.models import UsageCluster

WINDOW = timedelta(days=365)
MIN_CITIZENS = 20  # fewer than this are too few to tell groups apart


def usage_table(*, db_session: Session, now: datetime | None = None) -> pd.DataFrame:
    """One row per consenting citizen with a request in the last year, by citizen id, with the
    columns of evaluation.usage.CITIZEN_USAGE_FEATURES."""
    now = now or utcnow()
    since = now - WINDOW
    requests = pd.DataFrame(
        db_session.execute(
            sa.select(Case.citizen_id, Case.channel, Case.service_code, Case.created_at)
            .join(Citizen, Citizen.id == Case.citizen_id)
            .where(
                Citizen.consent_profiling,
                Citizen.erased_at.is_(None),
                Case.created_at >= since,
            )
        ).all(),
        columns=["citizen_id", "channel", "service_code", "created_at"],
    )
    if requests.empty:
        return pd.DataFrame(columns=list(CITIZEN_USAGE_FEATURES))
    table = pd.DataFrame(index=sorted(requests["citizen_id"].unique()))
    for feature in CITIZEN_USAGE_FEATURES:
        if feature.startswith("requests_"):
            channel = feature.removeprefix("requests_")
            counts = requests[requests["channel"] == channel].groupby("citizen_id").size()
            table[feature] = counts.reindex(table.index, fill_value=0)
    table["services_used"] = requests.groupby("citizen_id")["service_code"].nunique()
    months = pd.to_datetime(requests["created_at"], utc=True).dt.strftime("%Y-%m")
    table["months_active"] = months.groupby(requests["citizen_id"]).nunique()
    scores = pd.DataFrame(
        db_session.execute(
            sa.select(Case.citizen_id, Event.data)
            .join(Case, Case.id == Event.case_id)
            .where(Event.kind == EventKind.FEEDBACK, Event.at >= since)
        ).all(),
        columns=["citizen_id", "data"],
    )
    if scores.empty:
        table["satisfaction_mean"] = float("nan")
    else:
        scores["score"] = scores["data"].map(lambda d: float(d.get("score", "nan")))
        table["satisfaction_mean"] = scores.groupby("citizen_id")["score"].mean()
    table.index.name = "citizen_id"
    return table[list(CITIZEN_USAGE_FEATURES)].astype(float)


def fit_segments(
    *,
    db_session: Session,
    n_clusters: int | None = None,
    random_state: int = 0,
    now: datetime | None = None,
) -> list[UsageCluster]:
    """Cluster the citizens, store each one's usage segment and every cluster's figures; with
    too few citizens nothing is fitted and the segments are cleared. The caller commits."""
    now = now or utcnow()
    table = usage_table(db_session=db_session, now=now)
    db_session.execute(sa.delete(CitizenSegment).where(CitizenSegment.kind == SegmentKind.USAGE))
    db_session.execute(sa.delete(UsageCluster))
    if len(table) < MIN_CITIZENS:
        db_session.flush()
        return []
    model = CitizenUsageClustering(
        n_clusters=n_clusters, k_range=(2, 8), random_state=random_state
    ).fit(table)
    # u1 is the largest cluster, so the names read the same way after every fit.
    order = model.profiles_["size"].sort_values(ascending=False).index
    names = {label: f"u{rank}" for rank, label in enumerate(order, start=1)}
    for citizen_id, label in zip(table.index, model.labels_, strict=True):
        db_session.add(
            CitizenSegment(
                citizen_id=int(citizen_id),
                kind=SegmentKind.USAGE,
                value=names[label],
                assigned_at=now,
            )
        )
    clusters = []
    for label in order:
        profile = model.profiles_.loc[label]
        figures = {
            feature: None if pd.isna(profile[feature]) else round(float(profile[feature]), 2)
            for feature in CITIZEN_USAGE_FEATURES
        }
        cluster = UsageCluster(
            value=names[label],
            size=int(profile["size"]),
            share=float(profile["share"]),
            figures=figures,
            fitted_at=now,
        )
        db_session.add(cluster)
        clusters.append(cluster)
    db_session.flush()
    return clusters


def clusters(*, db_session: Session) -> list[UsageCluster]:
    """The clusters of the last fit, largest first."""
    return list(db_session.scalars(sa.select(UsageCluster).order_by(UsageCluster.size.desc())))
