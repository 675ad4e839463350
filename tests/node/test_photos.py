"""Photos sent with requests: what is taken, what is kept of it, who sees it, and its erasure."""

import io
import os
import stat
import struct
import zlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import ExifTags, Image

from node.cases.models import Case, CasePhoto
from node.database import get_db
from node.profiles.models import Citizen
from tests.factories import (
    EXAMPLE_SERVICES,
    PASSWORD,
    add_service,
    make_case,
    make_citizen,
    make_staff,
)
from tests.node.web import cheap_password_hashing, sign_in_staff, text

# Where the photo was taken, as a phone writes it: Piazza Maggiore, Bologna.
TAKEN_AT = (44.493889, 11.343056)
REPORT = {
    "description": "Broken glass all over the cycle lane",
    "attr_source": "other",
    "address": "Via Rizzoli 3",
    "email": "laura@example.org",
}


def gps_block(lat: float, long: float) -> dict[int, object]:
    """EXIF GPS data as cameras write it: degrees, minutes and seconds with N/S and E/W."""

    def dms(value: float) -> tuple[float, float, float]:
        value = abs(value)
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        return float(degrees), float(minutes), round(((value - degrees) * 60 - minutes) * 60, 4)

    tags = ExifTags.GPS
    return {
        tags.GPSLatitudeRef: "N" if lat >= 0 else "S",
        tags.GPSLatitude: dms(lat),
        tags.GPSLongitudeRef: "E" if long >= 0 else "W",
        tags.GPSLongitude: dms(long),
    }


def camera_jpeg(size=(1200, 900), gps=TAKEN_AT, orientation: int | None = None) -> bytes:
    """A JPEG as a phone sends it: the camera's make and serial, and where it was taken."""
    image = Image.new("RGB", size, (180, 40, 40))
    for x in range(0, size[0], 40):  # some detail, so the encoder has something to keep
        image.paste((20, 20, 160), (x, 0, x + 10, size[1]))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Fairphone"
    exif[ExifTags.Base.Model] = "FP5"
    exif[ExifTags.Base.BodySerialNumber] = "SN-0042-7781"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif[ExifTags.IFD.GPSInfo] = gps_block(*gps)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG of a few hundred bytes whose header claims a huge size: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 4096))
        + chunk(b"IEND", b"")
    )


def blank_png(width: int, height: int) -> bytes:
    """A real PNG of one colour: tiny on disk however many pixels it has."""
    out = io.BytesIO()
    Image.new("1", (width, height), 1).save(out, "PNG", optimize=True)
    return out.getvalue()


def image_as(kind: str) -> bytes:
    """A real picture in a format phones do not send, which the node does not parse."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 90, 200)).save(out, kind)
    return out.getvalue()


@pytest.fixture
def client(app, monkeypatch):
    """A test client on an app with CSRF off (test_web_csrf.py keeps it on)."""
    cheap_password_hashing(monkeypatch)
    app.config["WTF_CSRF_ENABLED"] = False
    return app.test_client()


def send(client, photo: bytes | None, name: str = "IMG_2041.jpg", **fields):
    """Send the portal's noise form with a photo, as a browser does (multipart)."""
    data = dict(REPORT) | fields
    if photo is not None:
        data["photo"] = (io.BytesIO(photo), name)
    return client.post("/services/noise-report", data=data, content_type="multipart/form-data")


def kept(app) -> list[tuple[CasePhoto, Case]]:
    with get_db(app).session() as session:
        rows = session.execute(sa.select(CasePhoto, Case).join(Case, Case.id == CasePhoto.case_id))
        result = [(photo, case) for photo, case in rows]
        session.expunge_all()
        return result


def file_of(app, path: str) -> Path:
    return Path(app.instance_path) / path


def test_a_photo_sent_with_a_portal_request_is_kept_owner_only_in_the_instance(app, client):
    sent = send(client, camera_jpeg())
    assert sent.status_code == 302, text(sent)
    [(photo, case)] = kept(app)
    image = file_of(app, photo.path)
    assert photo.path.startswith(f"photos/{case.tracking_code}/")
    assert image.is_file() and file_of(app, photo.thumbnail_path).is_file()
    for path in (image, image.parent, image.parent.parent):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode & 0o077 == 0, f"{path} is open to others: {oct(mode)}"
    assert Image.open(image).format == "JPEG"
    assert (photo.width, photo.height) == (1200, 900)


def test_a_photo_loses_every_exif_field_and_its_place_when_the_citizen_does_not_share_it(
    app, client
):
    assert send(client, camera_jpeg(orientation=6)).status_code == 302
    [(photo, case)] = kept(app)
    stored = Image.open(file_of(app, photo.path))
    assert dict(stored.getexif()) == {}
    assert b"Fairphone" not in file_of(app, photo.path).read_bytes()
    assert b"SN-0042" not in file_of(app, photo.path).read_bytes()
    assert (case.lat, case.long) == (None, None) and not photo.location_shared
    # The camera's orientation is applied before it goes: the picture still stands upright.
    assert stored.size == (900, 1200)


def test_a_shared_photo_place_becomes_the_requests_point_and_only_the_gps_stays(app, client):
    assert send(client, camera_jpeg(), share_location="y").status_code == 302
    [(photo, case)] = kept(app)
    assert case.lat == pytest.approx(TAKEN_AT[0], abs=1e-5)
    assert case.long == pytest.approx(TAKEN_AT[1], abs=1e-5)
    stored = Image.open(file_of(app, photo.path)).getexif()
    assert ExifTags.Base.Make not in stored and ExifTags.Base.BodySerialNumber not in stored
    assert stored.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
    assert photo.location_shared
    # What the public may ever see keeps nothing, shared or not.
    assert dict(Image.open(file_of(app, photo.thumbnail_path)).getexif()) == {}


def test_a_point_picked_on_the_map_wins_over_the_place_in_the_photo(app, client):
    sent = send(client, camera_jpeg(), share_location="y", lat="44,50012", long="11.35")
    assert sent.status_code == 302
    [(_photo, case)] = kept(app)
    assert (case.lat, case.long) == (44.50012, 11.35)


def test_a_request_without_a_photo_still_goes_and_keeps_its_typed_point(app, client):
    assert send(client, None, lat="44.4938", long="11.3426").status_code == 302
    assert kept(app) == []
    with get_db(app).session() as session:
        case = session.scalars(sa.select(Case)).one()
    assert (case.lat, case.long) == (44.4938, 11.3426)


def phone_picture(kind: str) -> bytes:
    """A picture as phones and messaging apps send them: JPEG, PNG with transparency, WebP,
    GIF, and MPO (the JPEG some phones write with a second picture inside)."""
    out = io.BytesIO()
    if kind == "PNG":
        Image.new("RGBA", (300, 200), (0, 120, 0, 128)).save(out, "PNG")
    elif kind == "GIF":
        Image.new("P", (300, 200), 3).save(out, "GIF", transparency=3)
    elif kind == "MPO":
        second = Image.new("RGB", (300, 200), "blue")
        Image.new("RGB", (300, 200), "red").save(out, "MPO", save_all=True, append_images=[second])
    else:
        Image.new("RGB", (300, 200), (200, 80, 0)).save(out, kind)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "WEBP", "GIF", "MPO"])
def test_a_photo_is_taken_by_what_it_is_not_by_its_name(app, client, kind):
    assert send(client, phone_picture(kind), name="scan.txt").status_code == 302
    [(photo, _case)] = kept(app)
    stored = Image.open(file_of(app, photo.path))
    assert stored.format == "JPEG" and stored.size == (300, 200)


@pytest.mark.parametrize(
    "content, name",
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "photo.jpg"),
        (b"<html><script>alert(1)</script></html>", "photo.png"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n", "report.jpg"),
        (b"MZ\x90\x00" + b"\x00" * 200, "IMG_0001.JPG"),
        (camera_jpeg()[:600], "cut-short.jpg"),
        (image_as("TIFF"), "scan.jpg"),
        (image_as("BMP"), "paint.png"),
    ],
    ids=["svg", "html", "pdf", "program", "truncated", "tiff", "bmp"],
)
def test_a_file_that_is_no_photo_is_refused_with_the_form_kept(app, client, content, name):
    refused = send(client, content, name=name)
    assert refused.status_code == 422
    page = text(refused)
    assert "This file is not a photo" in page or "damaged" in page
    assert REPORT["description"] in page  # what the citizen wrote is still in the form
    with get_db(app).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0
    assert not (Path(app.instance_path) / "photos").exists() or not any(
        (Path(app.instance_path) / "photos").rglob("*.jpg")
    )


def test_a_photo_over_the_size_limit_is_refused_and_the_limit_named(app, client):
    app.config["PHOTO_MAX_BYTES"] = 50_000
    big = camera_jpeg(size=(2400, 1800))
    assert len(big) > 50_000
    refused = send(client, big)
    assert refused.status_code == 422
    assert "larger than" in text(refused) and kept(app) == []


@pytest.mark.parametrize(
    "bomb",
    [png_header_only(100_000, 100_000), blank_png(6000, 6000)],
    ids=["forged header", "real small file of many pixels"],
)
def test_a_decompression_bomb_is_refused_before_it_is_unpacked(app, client, bomb):
    app.config["PHOTO_MAX_PIXELS"] = 20_000_000
    assert len(bomb) < 200_000  # small on the wire, huge once decoded
    refused = send(client, bomb, name="bomb.png")
    assert refused.status_code == 422
    assert "million pixels" in text(refused) and kept(app) == []


@pytest.fixture
def photographed(app, client):
    """A noise report with a photo, and staff of its department and of another one."""
    assert send(client, camera_jpeg()).status_code == 302
    [(photo, case)] = kept(app)
    with get_db(app).session() as session:
        staff = {
            "inside": make_staff(session, "caseworker", "environment").email,
            "outside": make_staff(session, "caseworker", "mobility").email,
            "agent": make_staff(session, "agent").email,
        }
        session.commit()
    return photo, case, staff


def test_staff_of_the_department_see_the_photo_on_the_case_page(app, photographed):
    photo, case, staff = photographed
    office = app.test_client()
    sign_in_staff(office, staff["inside"])
    page = text(office.get(f"/office/cases/{case.id}"))
    url = f"/office/cases/{case.id}/photos/{photo.id}"
    assert url in page and f"{url}?size=thumbnail" in page
    served = office.get(url)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.data == file_of(app, photo.path).read_bytes()
    assert served.headers["Cache-Control"] == "no-store"
    assert (
        office.get(f"{url}?size=thumbnail").data == file_of(app, photo.thumbnail_path).read_bytes()
    )


def test_a_photo_is_served_to_no_one_outside_the_cases_department(app, photographed):
    photo, case, staff = photographed
    url = f"/office/cases/{case.id}/photos/{photo.id}"
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 302 and "/office/login" in anonymous.headers["Location"]
    other = app.test_client()
    sign_in_staff(other, staff["outside"])
    assert other.get(url).status_code == 404
    assert other.get(f"/office/cases/{case.id}").status_code == 404
    inside = app.test_client()
    sign_in_staff(inside, staff["inside"])
    assert inside.get(f"/office/cases/{case.id}/photos/{photo.id + 1}").status_code == 404
    # No public address serves it while the service does not publish media.
    assert app.test_client().get(f"/photos/{photo.public_token}.jpg").status_code == 404


def test_a_photo_of_another_case_is_not_served_under_a_case_the_staff_can_see(
    app, client, photographed
):
    photo, case, staff = photographed
    second = dict(REPORT, description="More glass, near the bus stop")
    assert client.post("/services/noise-report", data=second).status_code == 302
    with get_db(app).session() as session:
        other_case = session.scalar(sa.select(Case.id).where(Case.id != case.id))
    inside = app.test_client()
    sign_in_staff(inside, staff["inside"])
    assert inside.get(f"/office/cases/{other_case}").status_code == 200
    assert inside.get(f"/office/cases/{other_case}/photos/{photo.id}").status_code == 404


def publish_media(app) -> None:
    spec = (EXAMPLE_SERVICES / "noise-report" / "service.toml").read_text(encoding="utf-8")
    add_service(app, spec + '\n[publish]\nlocation = "street"\nmedia = true\n')


def test_the_public_thumbnail_and_open311_media_url_exist_only_when_the_service_publishes(
    app, photographed
):
    photo, case, _staff = photographed
    public = app.test_client()
    url = f"/photos/{photo.public_token}.jpg"
    assert public.get(url).status_code == 404
    listed = public.get(f"/open311/v2/requests/{case.tracking_code}.json").get_json()
    assert listed[0]["media_url"] is None

    publish_media(app)
    shown = public.get(url)
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    assert shown.data == file_of(app, photo.thumbnail_path).read_bytes()
    assert dict(Image.open(io.BytesIO(shown.data)).getexif()) == {}
    assert Image.open(io.BytesIO(shown.data)).size[0] <= 480
    listed = public.get(f"/open311/v2/requests/{case.tracking_code}.json").get_json()
    assert listed[0]["media_url"] == f"http://localhost/photos/{photo.public_token}.jpg"
    assert public.get(f"/photos/{photo.public_token[:-1]}x.jpg").status_code == 404


def test_a_photo_an_app_sent_by_link_is_shown_to_staff_and_allowed_by_the_pages_policy(app, client):
    from node.intake import clients

    with get_db(app).session() as session:
        _, key = clients.create_client(db_session=session, name="Segnala")
        worker = make_staff(session, "caseworker", "environment").email
        session.commit()
    link = "https://photos.example.org/reports/2041.jpg?size=large"
    posted = app.test_client().post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "service_code": "noise-report",
            "attribute[source]": "traffic",
            "description": "Lorries idling all night",
            "media_url": link,
        },
    )
    assert posted.status_code == 200, posted.data
    with get_db(app).session() as session:
        case_id = session.scalar(sa.select(Case.id))
    office = app.test_client()
    sign_in_staff(office, worker)
    page = office.get(f"/office/cases/{case_id}")
    assert f'<img src="{link.replace("&", "&amp;")}"' in text(page)
    policy = page.headers["Content-Security-Policy"]
    img_src = next(p for p in policy.split(";") if p.strip().startswith("img-src"))
    assert "https://photos.example.org" in img_src
    # Other pages keep the node's policy.
    queue = office.get("/office/")
    assert "photos.example.org" not in queue.headers["Content-Security-Policy"]


def test_a_linked_photo_cannot_write_into_the_pages_policy(app, client):
    with get_db(app).session() as session:
        worker = make_staff(session, "caseworker", "environment").email
        case = make_case(session, channel="app", media_url="https://a.example;script-src *;/x.jpg")
        session.commit()
        case_id = case.id
    office = app.test_client()
    sign_in_staff(office, worker)
    page = office.get(f"/office/cases/{case_id}")
    assert page.status_code == 200
    assert "script-src *" not in page.headers["Content-Security-Policy"]
    assert '<img src="https://a.example;' not in text(page)
    assert "https://a.example;script-src *;/x.jpg" in text(page)  # shown as text, for staff


def test_a_persons_photos_are_in_their_export_and_go_with_their_erasure(app, client, photographed):
    photo, case, _staff = photographed
    files = [file_of(app, photo.path), file_of(app, photo.thumbnail_path)]
    assert all(f.is_file() for f in files)
    with get_db(app).session() as session:
        make_staff(session, role="privacy", department=None, email="dpo@example.org")
        citizen_id = session.scalar(sa.select(Citizen.id).where(Citizen.email == REPORT["email"]))
        session.commit()
    dpo = app.test_client()
    sign_in_staff(dpo, "dpo@example.org")
    exported = dpo.post(f"/office/privacy/{citizen_id}/export").get_json(force=True)
    assert exported["photos"] == [
        {
            "request": case.tracking_code,
            "created_at": photo.created_at.isoformat(),
            "width": 1200,
            "height": 900,
            "bytes": photo.size,
            "location_shared": False,
        }
    ]
    assert dpo.post(f"/office/privacy/{citizen_id}/erase").status_code == 302
    assert kept(app) == []
    assert not any(f.exists() for f in files)
    publish_media(app)
    assert app.test_client().get(f"/photos/{photo.public_token}.jpg").status_code == 404


def test_an_agent_attaches_a_callers_photo_on_the_console(app, client):
    with get_db(app).session() as session:
        agent = make_staff(session, "agent").email
        caller = make_citizen(session, name="Paolo Neri", phone="+39 333 765 4321")
        session.commit()
        caller_id = caller.id
    sign_in_staff(client, agent)
    opened = client.post(
        f"/office/console/callers/{caller_id}/cases/new/noise-report",
        data={
            "description": "Bins overflowing outside the school",
            "attr_source": "other",
            "photo": (io.BytesIO(camera_jpeg()), "whatsapp-photo.jpg"),
            "share_location": "y",
        },
        content_type="multipart/form-data",
    )
    assert opened.status_code == 302, text(opened)
    [(photo, case)] = kept(app)
    assert case.channel == "phone" and photo.citizen_id == caller_id
    assert case.lat == pytest.approx(TAKEN_AT[0], abs=1e-5)
    refused = client.post(
        f"/office/console/callers/{caller_id}/cases/new/noise-report",
        data={
            "description": "Another one",
            "attr_source": "other",
            "photo": (io.BytesIO(b"GIF89a not really"), "x.gif"),
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422 and "not a photo" in text(refused)


@pytest.mark.postgres
def test_photos_are_kept_served_and_erased_on_postgres(instance, postgres_url, monkeypatch):
    from tests.factories import make_node_app

    cheap_password_hashing(monkeypatch)
    app = make_node_app(instance, DATABASE_URL=postgres_url, WTF_CSRF_ENABLED=False)
    try:
        client = app.test_client()
        assert send(client, camera_jpeg(), share_location="y").status_code == 302
        assert send(client, camera_jpeg(gps=None), email="laura@example.org").status_code == 302
        photos = kept(app)
        assert len(photos) == 2 and len({p.public_token for p, _ in photos}) == 2
        with get_db(app).session() as session:
            make_staff(session, "caseworker", "environment", email="cw@city.example")
            make_staff(session, role="privacy", department=None, email="dpo@example.org")
            citizen_id = session.scalar(
                sa.select(Citizen.id).where(Citizen.email == REPORT["email"])
            )
            session.commit()
        office = app.test_client()
        sign_in_staff(office, "cw@city.example")
        photo, case = photos[0]
        assert office.get(f"/office/cases/{case.id}/photos/{photo.id}").status_code == 200
        dpo = app.test_client()
        sign_in_staff(dpo, "dpo@example.org")
        assert dpo.post(f"/office/privacy/{citizen_id}/erase").status_code == 302
        assert kept(app) == []
        assert not any(Path(app.instance_path, "photos").rglob("*.jpg"))
    finally:
        get_db(app).engine.dispose()


def test_a_photo_sent_before_signing_up_goes_when_the_account_is_erased(app, client):
    from tests.node.web import sign_up

    assert send(client, camera_jpeg()).status_code == 302
    [(photo, _case)] = kept(app)
    account = app.test_client()
    signup = {
        "name": "Laura Conti",
        "email": REPORT["email"],
        "phone": "",
        "preferred_channel": "email",
        "language": "it",
        "district": "Navile",
        "birth_year": "1985",
        "consent_contact": "y",
        "password": PASSWORD,
        "confirm": PASSWORD,
    }
    assert sign_up(account, app, signup).status_code == 302
    [(claimed, _case)] = kept(app)
    with get_db(app).session() as session:
        owner = session.get(Citizen, claimed.citizen_id)
        assert owner.email == REPORT["email"] and owner.password_hash
    erased = account.post("/account/erase", data={"password": PASSWORD, "confirm": "y"})
    assert erased.status_code == 302
    assert kept(app) == [] and not file_of(app, photo.path).exists()


def test_a_photo_follows_its_request_when_an_account_claims_the_address_it_came_with(app, client):
    from node.profiles.identity import attach_contact

    assert send(client, camera_jpeg()).status_code == 302
    with get_db(app).session() as session:
        account = make_citizen(session, name="Laura Conti", email="laura.conti@example.org")
        account.password_hash = "set"
        attach_contact(db_session=session, citizen=account, kind="email", address=REPORT["email"])
        session.commit()
        account_id = account.id
    [(photo, case)] = kept(app)
    assert case.citizen_id == account_id and photo.citizen_id == account_id


def test_erasing_a_person_forgets_the_photo_link_their_app_sent(app, client):
    from node.intake import clients

    with get_db(app).session() as session:
        _, key = clients.create_client(db_session=session, name="Segnala")
        make_staff(session, role="privacy", department=None, email="dpo@example.org")
        session.commit()
    posted = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "service_code": "noise-report",
            "attribute[source]": "traffic",
            "description": "Lorries idling all night",
            "media_url": "https://photos.example.org/laura/2041.jpg",
            "email": "laura@example.org",
        },
    )
    assert posted.status_code == 200, posted.data
    with get_db(app).session() as session:
        citizen_id = session.scalar(
            sa.select(Citizen.id).where(Citizen.email == "laura@example.org")
        )
        assert session.scalar(sa.select(Case.media_url)) is not None
    dpo = app.test_client()
    sign_in_staff(dpo, "dpo@example.org")
    assert dpo.post(f"/office/privacy/{citizen_id}/erase").status_code == 302
    with get_db(app).session() as session:
        assert session.scalar(sa.select(Case.media_url)) is None


def test_a_photos_files_go_when_the_transaction_keeping_it_fails(tmp_path):
    from node.cases.photos import removed_on_failure

    written = [tmp_path / "a.jpg", tmp_path / "a-thumbnail.jpg"]
    for path in written:
        path.write_bytes(b"jpeg")
    with pytest.raises(RuntimeError), removed_on_failure(written):
        raise RuntimeError("the database went away during the commit")
    assert not any(path.exists() for path in written)
    kept_files = [tmp_path / "b.jpg"]
    kept_files[0].write_bytes(b"jpeg")
    with removed_on_failure(kept_files):
        pass
    assert kept_files[0].exists()
