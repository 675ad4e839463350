"""Stored aggregates: cells of the held snapshots, services with provenance, export tables."""

from datetime import datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from federation.hub.aggregates.models import AggregateCell, NodeService
from federation.hub.aggregates.schemas import CellOut, CellPage, ServiceOut
from federation.hub.nodes.models import Node, StoredSnapshot
from federation.protocol.measures import federation_service, snapshot_rows
from federation.protocol.models import POPULATION_BANDS, ContextFigure, MetricsSnapshot

CITIES_COLUMNS = [
    "city_id",
    "city",
    "country",
    "population",
    *(figure.value for figure in ContextFigure),
    *(f"share_{band.value}" for band in POPULATION_BANDS),
]
OBSERVATIONS_COLUMNS = [
    "city_id",
    "service",
    "template",
    "period",
    "segment",
    "channel",
    "measure",
    "value",
]


def replace_cells(*, db_session: Session, stored: StoredSnapshot, snapshot: MetricsSnapshot) -> int:
    """Replace the cells of a held snapshot with those of the snapshot now held; returns rows."""
    db_session.execute(sa.delete(AggregateCell).where(AggregateCell.snapshot_id == stored.id))
    base = {"snapshot_id": stored.id, "node_id": stored.node_id, "period": stored.period}
    rows = snapshot_rows(snapshot, base)
    if rows:
        # Core insert: one executemany, without the ORM's per-object bookkeeping.
        db_session.execute(AggregateCell.__table__.insert(), rows)
    return len(rows)


def record_services(
    *, db_session: Session, node: Node, snapshot: MetricsSnapshot, now: datetime
) -> None:
    """Keep each service's identity as the snapshot of its latest period names it."""
    existing = {
        record.code: record
        for record in db_session.scalars(
            sa.select(NodeService).where(NodeService.node_id == node.id)
        )
    }
    for identity in snapshot.services:
        values = {
            "service": federation_service(node=node.slug, service=identity),
            "template": identity.template,
            "template_version": identity.template_version,
            "cloned_from_node": identity.cloned_from.node if identity.cloned_from else None,
            "cloned_from_service": identity.cloned_from.service if identity.cloned_from else None,
        }
        record = existing.get(identity.code)
        if record is None:
            db_session.add(
                NodeService(
                    node_id=node.id,
                    code=identity.code,
                    first_period=snapshot.period,
                    last_period=snapshot.period,
                    updated_at=now,
                    **values,
                )
            )
            continue
        record.first_period = min(record.first_period, snapshot.period)
        if snapshot.period >= record.last_period:
            record.last_period = snapshot.period
            for name, value in values.items():
                setattr(record, name, value)
            record.updated_at = now


def list_services(*, db_session: Session, node_slug: str | None = None) -> list[ServiceOut]:
    """Services per node with their provenance, optionally of one node."""
    query = sa.select(NodeService, Node.slug).join(Node, Node.id == NodeService.node_id)
    if node_slug is not None:
        query = query.where(Node.slug == node_slug)
    rows = db_session.execute(query.order_by(Node.slug, NodeService.code)).all()
    return [
        ServiceOut(
            node=slug,
            code=record.code,
            service=record.service,
            template=record.template,
            template_version=record.template_version,
            cloned_from_node=record.cloned_from_node,
            cloned_from_service=record.cloned_from_service,
            first_period=record.first_period,
            last_period=record.last_period,
        )
        for record, slug in rows
    ]


def query_cells(
    *,
    db_session: Session,
    service: str | None = None,
    node: str | None = None,
    period: str | None = None,
    segment: str | None = None,
    channel: str | None = None,
    measure: str | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> CellPage:
    """A page of stored cells, filtered by service, node, period, segment, channel, measure."""
    query = sa.select(AggregateCell, Node.slug).join(Node, Node.id == AggregateCell.node_id)
    filters = {
        AggregateCell.service: service,
        Node.slug: node,
        AggregateCell.period: period,
        AggregateCell.segment: segment,
        AggregateCell.channel: channel,
        AggregateCell.measure: measure,
    }
    for column, value in filters.items():
        if value is not None:
            query = query.where(column == value)
    total = db_session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(
        Node.slug,
        AggregateCell.period,
        AggregateCell.service,
        AggregateCell.segment,
        AggregateCell.channel,
        AggregateCell.measure,
    )
    rows = db_session.execute(ordered.limit(limit).offset(offset)).all()
    cells = [
        CellOut(
            node=slug,
            period=cell.period,
            service=cell.service,
            service_code=cell.service_code,
            template=cell.template,
            segment=cell.segment,
            channel=cell.channel,
            measure=cell.measure,
            value=cell.value,
        )
        for cell, slug in rows
    ]
    return CellPage(total=total, limit=limit, offset=offset, cells=cells)


def cities_frame(*, db_session: Session) -> pd.DataFrame:
    """cities.csv: one row per active node's city, with context figures and population shares."""
    records = []
    for node in db_session.scalars(sa.select(Node).where(Node.active).order_by(Node.slug)):
        shares = node.population_shares or {}
        record: dict[str, object] = {
            "city_id": node.slug,
            "city": node.city,
            "country": node.country,
            "population": node.population,
        }
        for figure in ContextFigure:
            record[figure.value] = node.context.get(figure.value)
        for band in POPULATION_BANDS:
            record[f"share_{band.value}"] = shares.get(band.value)
        records.append(record)
    return pd.DataFrame.from_records(records, columns=CITIES_COLUMNS)


def observations_frame(*, db_session: Session) -> pd.DataFrame:
    """observations.csv: one row per stored measure; suppressed cells have no row."""
    query = (
        sa.select(
            Node.slug.label("city_id"),
            AggregateCell.service,
            AggregateCell.template,
            AggregateCell.period,
            AggregateCell.segment,
            AggregateCell.channel,
            AggregateCell.measure,
            AggregateCell.value,
        )
        .join(Node, Node.id == AggregateCell.node_id)
        .where(Node.active)
        .order_by(
            Node.slug,
            AggregateCell.service,
            AggregateCell.period,
            AggregateCell.segment,
            AggregateCell.channel,
            AggregateCell.measure,
        )
    )
    rows = db_session.execute(query).all()
    frame = pd.DataFrame.from_records(rows, columns=OBSERVATIONS_COLUMNS)
    return frame.astype({"value": "int64"})


def write_export(*, db_session: Session, out_dir: Path) -> tuple[Path, Path]:
    """Write cities.csv and observations.csv into out_dir, the tables the evaluation reads."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cities_path = out_dir / "cities.csv"
    observations_path = out_dir / "observations.csv"
    cities_frame(db_session=db_session).to_csv(cities_path, index=False)
    observations_frame(db_session=db_session).to_csv(observations_path, index=False)
    return cities_path, observations_path
