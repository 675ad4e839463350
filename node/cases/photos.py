"""Photos sent with requests: checked by their content, re-encoded without EXIF, kept owner-only.

What a citizen uploads is never kept as it came. Pillow reads it (the type is what the bytes
are, not what the name says), the pixel count is checked before anything is decoded (a small
file may unpack into gigabytes), and the image is written anew as JPEG: no EXIF, so neither the
camera's serial number nor the place the photo was taken, unless the citizen chose to share
that place, when only the GPS data stays. The thumbnail never keeps any EXIF: it is the picture
the public may see, when the service publishes media.
"""

import io
import logging
import secrets
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from PIL import ExifTags, Image, ImageOps
from sqlalchemy.orm import Session

from node.cases.models import Case, CasePhoto
from node.database import utcnow
from node.errors import InvalidInput, NotFound
from runtime.database import after_commit
from runtime.private_files import write_private

log = logging.getLogger(__name__)

# What phones and cameras send; MPO is the JPEG some phones write with a second picture inside.
ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "GIF"}
PARSERS = ("GIF", "JPEG", "PNG", "WEBP")  # Pillow's JPEG parser opens MPO files too
ACCEPTED_TYPES = "JPEG, PNG, WebP or GIF"
LARGEST_SIDE = 4096  # pixels: enough for staff to read a number plate, small enough to keep
THUMBNAIL_SIDE = 480
JPEG_QUALITY = 85
PRIVATE_FOLDER = 0o700


class PhotoRefused(InvalidInput):
    """A file that is not a photo the node takes; `reason` says which check it failed."""

    def __init__(self, reason: str, message: str, limit: int | None = None) -> None:
        super().__init__(message, {"photo": message})
        self.reason = reason  # type, size, pixels or unreadable
        self.limit = limit


@dataclass(frozen=True)
class Photo:
    """A photo as the node keeps it: re-encoded, with its thumbnail and the place it names."""

    image: bytes
    thumbnail: bytes
    width: int
    height: int
    location: tuple[float, float] | None  # from its EXIF GPS data, when shared
    location_shared: bool


def _degrees(value: Any, ref: Any) -> float | None:
    """Degrees from EXIF's (degrees, minutes, seconds) rationals and its N/S/E/W reference."""
    try:
        degrees, minutes, seconds = (Fraction(str(float(part))) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = float(degrees + minutes / 60 + seconds / 3600)
    if str(ref).strip().upper()[:1] in ("S", "W"):
        result = -result
    return result


def gps_location(gps: dict[int, Any]) -> tuple[float, float] | None:
    """The latitude and longitude an EXIF GPS block gives, or None when it gives none that fits."""
    tags = ExifTags.GPS
    lat = _degrees(gps.get(tags.GPSLatitude), gps.get(tags.GPSLatitudeRef))
    long = _degrees(gps.get(tags.GPSLongitude), gps.get(tags.GPSLongitudeRef))
    if lat is None or long is None or not (-90 <= lat <= 90 and -180 <= long <= 180):
        return None
    if lat == 0 and long == 0:  # a camera without a fix writes zeros
        return None
    return round(lat, 6), round(long, 6)


def _opened(data: bytes, *, max_pixels: int) -> Image.Image:
    """The image the bytes are, refused unless it is a photo of an accepted type and size."""
    with warnings.catch_warnings():
        # Pillow warns, then refuses, past its own limit; ours is the one that counts.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            # Only these parsers ever see the bytes: none of Pillow's rarer formats is tried.
            image = Image.open(io.BytesIO(data), formats=PARSERS)
        except Image.DecompressionBombError:
            raise PhotoRefused(
                "pixels", f"the image has more than {max_pixels} pixels", max_pixels
            ) from None
        except Exception:  # UnidentifiedImageError mostly: whatever a parser meets, not a 500
            raise PhotoRefused(
                "type", f"the file is not a {ACCEPTED_TYPES} image, whatever its name says"
            ) from None
    if image.format not in ACCEPTED_FORMATS:
        raise PhotoRefused(
            "type", f"the file is a {image.format} image; send a {ACCEPTED_TYPES} photo"
        )
    if image.width * image.height > max_pixels:  # read from the header: nothing decoded yet
        raise PhotoRefused("pixels", f"the image has more than {max_pixels} pixels", max_pixels)
    return image


def _as_rgb(image: Image.Image) -> Image.Image:
    """The picture in RGB, transparent parts on white (JPEG has no transparency)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        ground = Image.new("RGB", rgba.size, "white")
        ground.paste(rgba, mask=rgba.getchannel("A"))
        return ground
    return image.convert("RGB")


def _jpeg(image: Image.Image, exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    options: dict[str, Any] = {"quality": JPEG_QUALITY, "optimize": True}
    if exif is not None:
        options["exif"] = exif.tobytes()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def read_photo(data: bytes, *, max_bytes: int, max_pixels: int, share_location: bool) -> Photo:
    """Check an uploaded file and re-encode it; PhotoRefused says why a file is not taken.

    The EXIF GPS data names where the photo was taken (often the citizen's home): it is read
    and kept only when `share_location` is set, and every other EXIF field goes in any case.
    """
    if not data:
        raise PhotoRefused("type", "the file is empty")
    if len(data) > max_bytes:
        raise PhotoRefused("size", f"the file is larger than {max_bytes} bytes", max_bytes)
    image = _opened(data, max_pixels=max_pixels)
    try:
        exif = image.getexif()
        gps = dict(exif.get_ifd(ExifTags.IFD.GPSInfo)) if share_location else {}
        upright = ImageOps.exif_transpose(image)  # the EXIF orientation goes with the EXIF
        picture = _as_rgb(upright)
    except Exception:  # a damaged file breaks decoders in many ways; each is the sender's
        log.info("a photo could not be decoded", exc_info=True)
        raise PhotoRefused("unreadable", "the image is damaged and could not be read") from None
    picture.thumbnail((LARGEST_SIDE, LARGEST_SIDE))
    kept_exif = None
    location = gps_location(gps) if gps else None
    if location is not None:
        kept_exif = Image.Exif()
        kept_exif[ExifTags.IFD.GPSInfo] = gps
    small = picture.copy()
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    return Photo(
        image=_jpeg(picture, kept_exif),
        thumbnail=_jpeg(small),
        width=picture.width,
        height=picture.height,
        location=location,
        location_shared=location is not None,
    )


@dataclass(frozen=True)
class PhotoStore:
    """Where a node keeps photos: `photos_dir`, and the instance folder rows are relative to."""

    instance_path: Path
    photos_dir: Path

    @classmethod
    def from_config(cls, config: Any, instance_path: str | Path) -> "PhotoStore":
        """The store of a node app."""
        return cls(instance_path=Path(instance_path), photos_dir=Path(config["PHOTOS_DIR"]))

    def relative(self, path: Path) -> str:
        """A path as rows keep it: relative to the instance folder when it is inside it."""
        try:
            return str(path.relative_to(self.instance_path))
        except ValueError:
            return str(path)

    def absolute(self, path: str) -> Path:
        """A path a row keeps, on disk."""
        return self.instance_path / path

    def write(self, tracking_code: str, name: str, data: bytes) -> Path:
        """Write one file owner-only into the case's folder, made owner-only too."""
        folder = self.photos_dir / tracking_code
        for part in (self.photos_dir, folder):
            part.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
        path = folder / name
        write_private(path, data)
        return path

    def delete(self, path: str) -> None:
        """Remove a kept file, if it is still there."""
        if path:
            self.absolute(path).unlink(missing_ok=True)


def keep_photo(
    *,
    db_session: Session,
    case: Case,
    photo: Photo,
    store: PhotoStore,
    written: list[Path],
    now: datetime | None = None,
) -> CasePhoto:
    """Write a checked photo and its thumbnail with the case; `written` collects the new files,
    for the caller to remove should its transaction not commit."""
    stem = secrets.token_hex(8)
    image = store.write(case.tracking_code, f"{stem}.jpg", photo.image)
    written.append(image)
    thumbnail = store.write(case.tracking_code, f"{stem}-thumbnail.jpg", photo.thumbnail)
    written.append(thumbnail)
    row = CasePhoto(
        case_id=case.id,
        citizen_id=case.citizen_id,
        path=store.relative(image),
        thumbnail_path=store.relative(thumbnail),
        public_token=secrets.token_urlsafe(18),
        content_type="image/jpeg",
        size=len(photo.image),
        width=photo.width,
        height=photo.height,
        location_shared=photo.location_shared,
        created_at=now or utcnow(),
    )
    db_session.add(row)
    db_session.flush()
    return row


@contextmanager
def removed_on_failure(written: list[Path]) -> Iterator[None]:
    """Remove the files written for a transaction when the block (its commit) fails."""
    try:
        yield
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def photos_of(*, db_session: Session, case_id: int) -> list[CasePhoto]:
    """A case's photos, oldest first."""
    query = sa.select(CasePhoto).where(CasePhoto.case_id == case_id).order_by(CasePhoto.id)
    return list(db_session.scalars(query))


def get_photo(*, db_session: Session, case_id: int, photo_id: int) -> CasePhoto:
    """One photo of a case; NotFound when the case has no such photo."""
    photo = db_session.get(CasePhoto, photo_id)
    if photo is None or photo.case_id != case_id:
        raise NotFound(f"case {case_id} has no photo {photo_id}")
    return photo


def by_token(*, db_session: Session, token: str) -> CasePhoto:
    """The photo a public token names; NotFound for any other token."""
    photo = db_session.scalar(sa.select(CasePhoto).where(CasePhoto.public_token == token))
    if photo is None:
        raise NotFound("no such photo")
    return photo


def public_tokens(*, db_session: Session, case_ids: list[int]) -> dict[int, str]:
    """Per case, the token of its first photo, for the cases that have one."""
    if not case_ids:
        return {}
    rows = db_session.execute(
        sa.select(CasePhoto.case_id, CasePhoto.public_token)
        .where(CasePhoto.case_id.in_(case_ids))
        .order_by(CasePhoto.id.desc())
    )
    return {case_id: token for case_id, token in rows}  # the earliest photo's row comes last


def claim_photos(*, db_session: Session, from_citizen_id: int, to_citizen_id: int) -> None:
    """Photos of requests joined to an account follow them (connected to the claim hook)."""
    db_session.execute(
        sa.update(CasePhoto)
        .where(CasePhoto.citizen_id == from_citizen_id)
        .values(citizen_id=to_citizen_id)
    )


def export_photos(*, db_session: Session, citizen_id: int, into: dict) -> None:
    """A citizen's photos, in the export of their data: which request, when, and what is kept."""
    query = (
        sa.select(CasePhoto, Case.tracking_code)
        .join(Case, Case.id == CasePhoto.case_id)
        .where(CasePhoto.citizen_id == citizen_id)
        .order_by(CasePhoto.id)
    )
    into["photos"] = [
        {
            "request": code,
            "created_at": photo.created_at.isoformat(),
            "width": photo.width,
            "height": photo.height,
            "bytes": photo.size,
            "location_shared": photo.location_shared,
        }
        for photo, code in db_session.execute(query)
    ]


def forget_citizen(*, db_session: Session, citizen_id: int, store: PhotoStore | None) -> list[str]:
    """An erased citizen's photos go: their rows now, their files once the erasure commits.

    Returns the files' paths; without a store (no instance at hand) they are only logged.
    """
    query = sa.select(CasePhoto).where(CasePhoto.citizen_id == citizen_id)
    photos = list(db_session.scalars(query))
    paths = [p for photo in photos for p in (photo.path, photo.thumbnail_path) if p]
    for photo in photos:
        db_session.delete(photo)
    db_session.flush()
    if paths:
        delete: Callable[[], None]
        if store is None:

            def delete() -> None:
                log.warning("erased photos left on disk, no instance at hand: %s", paths)

        else:

            def delete() -> None:
                for path in paths:
                    store.delete(path)

        after_commit(db_session, delete)
    return paths
