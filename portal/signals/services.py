"""Writes for signals: require → validate/clean → persist → audit → publish on commit.

The HTML form, the JSON API and (for acknowledgements) the socket handler all call these functions; none of them
touches the request, the session or the commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal.audit import services as audit
from portal.authz.permissions import Permission
from portal.authz.policy import has_permission
from portal.core.db import parse_public_id, utcnow
from portal.core.errors import NotFound, PermissionDenied, ValidationFailed
from portal.core.sanitize import clean_rich_text, html_to_text
from portal.core.text import clean_text
from portal.extensions import db
from portal.identity.models import User
from portal.organisations.models import District, Organisation, OrganisationKind
from portal.rooms.models import Room, RoomKind
from portal.signals import events, queries
from portal.signals.models import (
    AGE_BANDS,
    INVOLVED_GROUPS,
    ONLINE_PLATFORMS,
    Classification,
    Daypart,
    ReferenceCounter,
    ReportStatus,
    ResponseKind,
    RoomEvent,
    SharingScope,
    Signal,
    SignalRecognition,
    SignalResponse,
    SignalStatus,
    SignalStatusChange,
    TaxonomyTerm,
    Vocabulary,
)

ACUTE = "acuut"  # the severity code that means "danger now": 112 first, then the room's police contact
SUMMARY_MAX = 280
DETAILS_MAX = 5000  # characters of text (after cleaning)
RESPONSE_MAX = 2000
KEY_MAX = 64


@dataclass
class SignalInput:
    """What a poster submits, in codes and public ids (forms and the API both build one)."""

    client_key: str
    occurred_on: date | None
    category: str
    location_type: str
    severity: str
    summary: str
    subcategory: str = ""
    daypart: str = Daypart.UNKNOWN.value
    details_html: str = ""
    school_location_id: str = ""  # public id; default: the poster's own school location
    district_code: str = ""  # needed when the signal is not tied to a school location
    area: str = ""  # area name within the district
    involved_counts: dict = field(default_factory=dict)
    age_bands: list = field(default_factory=list)
    weapon_type: str = ""
    online_platform: str = ""
    school_measures: list = field(default_factory=list)
    police_involved: bool = False
    report_status: str = ReportStatus.NONE.value
    classification: str = Classification.K2.value
    sharing_scope: str = SharingScope.DISTRICT.value
    extra_districts: list = field(default_factory=list)  # district codes
    recipients: list = field(default_factory=list)  # organisation codes
    themes: list = field(default_factory=list)  # theme codes
    status: str = SignalStatus.SHARED.value  # or "concept"
    pii_confirmation: str = ""  # reason code when the poster kept text the personal-data check flagged


@dataclass(frozen=True)
class Created:
    signal: Signal
    created: bool  # False: the idempotency key was seen before and the original is returned


def _term(vocabulary: Vocabulary, code: str, field_name: str, *, required: bool = True) -> TaxonomyTerm | None:
    code = (code or "").strip()
    if not code:
        if required:
            raise ValidationFailed("Choose a value.", field=field_name)
        return None
    term = db.session.scalar(
        select(TaxonomyTerm).where(
            TaxonomyTerm.vocabulary == vocabulary, TaxonomyTerm.code == code, TaxonomyTerm.active.is_(True)
        )
    )
    if term is None:
        raise ValidationFailed("Unknown value.", field=field_name)
    return term


def _choice(enum_type, value: str, field_name: str):
    try:
        return enum_type(value)
    except ValueError as exc:
        raise ValidationFailed("Unknown value.", field=field_name) from exc


def _client_key(value: str) -> str:
    key = clean_text(value, field="client_key", max_length=KEY_MAX)
    if len(key) < 8:
        raise ValidationFailed("A submission key of 8-64 characters is required.", field="client_key")
    return key


def next_reference(year: int) -> str:
    counter = db.session.scalar(select(ReferenceCounter).where(ReferenceCounter.year == year).with_for_update())
    if counter is None:
        counter = ReferenceCounter(year=year, last_number=0)
        db.session.add(counter)
    counter.last_number += 1
    db.session.flush()
    return f"SIG-{year}-{counter.last_number:04d}"


def rooms_for(signal: Signal) -> list[Room]:
    """The rooms whose stream carries this signal (its district's room, extra districts, the city room)."""
    if signal.sharing_scope is SharingScope.CITY:
        stmt = select(Room).where(Room.kind.in_([RoomKind.DISTRICT, RoomKind.CITY]))
    else:
        district_ids = {signal.district_id} | {d.id for d in signal.extra_districts}
        stmt = select(Room).where(Room.kind == RoomKind.DISTRICT, Room.district_id.in_(district_ids))
    return list(db.session.scalars(stmt.order_by(Room.id)))


def append_events(signal: Signal, kind: str) -> list[tuple[Room, RoomEvent]]:
    """Next sequence number in every room of the signal; the room row lock keeps ``seq`` gap-free and unique."""
    appended = []
    for room in rooms_for(signal):
        locked = db.session.scalar(select(Room).where(Room.id == room.id).with_for_update())
        locked.last_seq += 1
        event = RoomEvent(room_id=locked.id, seq=locked.last_seq, kind=kind, signal_id=signal.id)
        db.session.add(event)
        appended.append((locked, event))
    db.session.flush()
    events.signal_event(kind, signal.id, [(room.id, event.seq) for room, event in appended])
    return appended


def _school_and_district(
    author: User, data: SignalInput, viewer: queries.Viewer
) -> tuple[Organisation | None, District]:
    own = author.organisation
    if data.school_location_id:
        school_public_id = parse_public_id(data.school_location_id)
        school = (
            db.session.scalar(select(Organisation).where(Organisation.public_id == school_public_id))
            if school_public_id
            else None
        )
        if school is None or school.kind is not OrganisationKind.SCHOOL_LOCATION:
            raise ValidationFailed("Unknown school location.", field="school_location")
        if own.kind is OrganisationKind.SCHOOL_LOCATION and school.id != own.id:
            raise ValidationFailed("You can only post signals for your own school location.", field="school_location")
        if own.kind is not OrganisationKind.SCHOOL_LOCATION and school.district_id not in viewer.district_ids:
            raise ValidationFailed("This school is not in one of your districts.", field="school_location")
        return school, school.district
    if own.kind is OrganisationKind.SCHOOL_LOCATION:
        return own, own.district
    district = db.session.scalar(select(District).where(District.code == (data.district_code or "").upper()))
    if district is None:
        raise ValidationFailed("Choose the district.", field="district")
    if district.id not in viewer.district_ids:
        raise ValidationFailed("You can only post signals in your own districts.", field="district")
    return None, district


def create_signal(author: User, data: SignalInput, *, ip: str) -> Created:
    if not has_permission(author, Permission.SIGNAL_CREATE):
        raise PermissionDenied("You may not post signals.")
    key = _client_key(data.client_key)
    existing = db.session.scalar(select(Signal).where(Signal.created_by_id == author.id, Signal.client_key == key))
    if existing is not None:
        return Created(existing, False)

    viewer = queries.viewer_for(author)
    school, district = _school_and_district(author, data, viewer)
    signal = Signal(created_by=author, organisation=author.organisation, client_key=key)
    _apply(signal, data, school=school, district=district)
    status = _choice(SignalStatus, data.status or SignalStatus.SHARED.value, "status")
    if status not in (SignalStatus.DRAFT, SignalStatus.SHARED):
        raise ValidationFailed("A new signal is a draft or shared.", field="status")
    signal.status = status
    if status is SignalStatus.SHARED:
        signal.shared_at = utcnow()
    today = utcnow().date()
    signal.retention_until = today + timedelta(days=5 * 365)
    # The same key submitted twice at the same moment (a double click, a retry after a client time-out): the second
    # insert fails on the unique (author, key) and answers with the first. The savepoint must open before the insert
    # is flushed -- ``begin_nested`` flushes pending objects first, and a failure there left the whole transaction
    # broken (PendingRollbackError, a 500). The reference counter row lock makes the second request wait for the
    # first one's commit, so the first signal is there to be found.
    try:
        with db.session.begin_nested():
            signal.reference = next_reference(today.year)
            db.session.add(signal)
            db.session.flush()
    except IntegrityError:
        existing = db.session.scalar(select(Signal).where(Signal.created_by_id == author.id, Signal.client_key == key))
        if existing is None:
            raise
        return Created(existing, False)
    db.session.add(
        SignalStatusChange(signal_id=signal.id, from_status=None, to_status=status.value, changed_by_id=author.id)
    )
    audit.record(
        "signal.create",
        actor=author,
        ip=ip,
        object_type="signal",
        object_id=str(signal.public_id),
        details={
            "scope": signal.sharing_scope.value,
            "classification": signal.classification.value,
            "pii_confirmed": signal.pii_confirmation,
        },
    )
    if status is SignalStatus.SHARED:
        append_events(signal, "signal.created")
        _raise_acute_if_needed(signal)
    return Created(signal, True)


def _raise_acute_if_needed(signal: Signal) -> None:
    if signal.severity.code == ACUTE and signal.shared_at is not None:
        from portal.police.services import raise_acute

        raise_acute(signal)


def _apply(signal: Signal, data: SignalInput, *, school: Organisation | None, district: District) -> None:
    """Validate and copy every editable field onto ``signal`` (create and update share the rules)."""
    category = _term(Vocabulary.CATEGORY, data.category, "category")
    if category.parent_id is not None:
        raise ValidationFailed("Choose a main category.", field="category")
    subcategory = _term(Vocabulary.CATEGORY, data.subcategory, "subcategory", required=False)
    if subcategory is not None and subcategory.parent_id != category.id:
        raise ValidationFailed("This subcategory does not belong to the category.", field="subcategory")
    if data.occurred_on is None:
        raise ValidationFailed("Enter the date.", field="occurred_on")
    today = utcnow().date()
    if data.occurred_on > today:
        raise ValidationFailed("The date cannot be in the future.", field="occurred_on")
    if data.occurred_on < today - timedelta(days=366):
        raise ValidationFailed("The date is more than a year ago.", field="occurred_on")
    summary = clean_text(data.summary, field="summary", max_length=SUMMARY_MAX)
    if len(summary) < 5:
        raise ValidationFailed("Describe the signal in a short sentence.", field="summary")
    details_html = clean_rich_text(data.details_html or "")
    details_text = html_to_text(details_html)
    if len(details_text) > DETAILS_MAX:
        raise ValidationFailed("The details are longer than %(max)s characters.", field="details", max=DETAILS_MAX)
    area = None
    if data.area:
        area = next((a for a in district.areas if a.name == data.area), None)
        if area is None:
            raise ValidationFailed("This area is not in the district.", field="area")
    counts = {}
    for group, value in (data.involved_counts or {}).items():
        if group not in INVOLVED_GROUPS:
            raise ValidationFailed("Unknown group.", field="involved_counts")
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 500:
            raise ValidationFailed("Enter a number from 0 to 500.", field="involved_counts")
        if value:
            counts[group] = value
    bands = list(dict.fromkeys(data.age_bands or []))
    if any(b not in AGE_BANDS for b in bands):
        raise ValidationFailed("Unknown age band.", field="age_bands")
    platform = (data.online_platform or "").strip() or None
    if platform is not None and platform not in ONLINE_PLATFORMS:
        raise ValidationFailed("Unknown platform.", field="online_platform")
    measures = list(dict.fromkeys(data.school_measures or []))
    for code in measures:
        _term(Vocabulary.SCHOOL_MEASURE, code, "school_measures")
    themes = [_term(Vocabulary.THEME, code, "themes") for code in dict.fromkeys(data.themes or [])]
    scope = _choice(SharingScope, data.sharing_scope, "sharing_scope")
    classification = _choice(Classification, data.classification, "classification")
    extra = []
    if scope is SharingScope.DISTRICTS:
        codes = {c.upper() for c in data.extra_districts or []} - {district.code}
        extra = list(db.session.scalars(select(District).where(District.code.in_(codes)))) if codes else []
        if len(extra) != len(codes) or not extra:
            raise ValidationFailed("Choose the other districts to share with.", field="extra_districts")
    recipients = []
    if scope is SharingScope.NAMED:
        codes = set(data.recipients or [])
        recipients = list(db.session.scalars(select(Organisation).where(Organisation.code.in_(codes)))) if codes else []
        if len(recipients) != len(codes) or not recipients:
            raise ValidationFailed("Choose the organisations to share with.", field="recipients")
    if scope in (SharingScope.OWN_LOCATION, SharingScope.OWN_BOARD) and school is None:
        raise ValidationFailed(
            "Only a signal of a school can be limited to the school or its board.", field="sharing_scope"
        )

    signal.school_location = school
    signal.district = district
    signal.area = area
    signal.occurred_on = data.occurred_on
    signal.daypart = _choice(Daypart, data.daypart or Daypart.UNKNOWN.value, "daypart")
    signal.location_type = _term(Vocabulary.LOCATION_TYPE, data.location_type, "location_type")
    signal.category = category
    signal.subcategory = subcategory
    signal.severity = _term(Vocabulary.SEVERITY, data.severity, "severity")
    signal.summary = summary
    signal.details_html = details_html
    signal.details_text = details_text
    signal.involved_counts = counts
    signal.age_bands = bands
    signal.weapon_type = _term(Vocabulary.WEAPON_TYPE, data.weapon_type, "weapon_type", required=False)
    signal.online_platform = platform
    signal.school_measures = measures
    signal.police_involved = bool(data.police_involved)
    signal.report_status = _choice(ReportStatus, data.report_status or ReportStatus.NONE.value, "report_status")
    signal.classification = classification
    signal.sharing_scope = scope
    signal.extra_districts = extra
    signal.recipients = recipients
    signal.themes = themes
    if data.pii_confirmation not in ("", "geen_persoonsgegeven", "noodzakelijk"):
        raise ValidationFailed("Unknown reason.", field="pii_reason")
    signal.pii_confirmation = data.pii_confirmation


def own_signal(author: User, public_id) -> Signal:
    """A signal the user may edit, withdraw and add person references to (``Viewer.may_edit``: the poster, or a
    colleague of the posting organisation within the same scope). NotFound otherwise, the same as for an unknown
    id: the edit pages and the PATCH answer alike whether or not the user may read the signal."""
    viewer = queries.viewer_for(author)
    signal = queries.get_visible_signal(viewer, public_id)
    if not viewer.may_edit(signal):
        raise NotFound()
    return signal


TRANSITIONS = {
    SignalStatus.DRAFT: {SignalStatus.SHARED, SignalStatus.WITHDRAWN},
    SignalStatus.SHARED: {SignalStatus.IN_PROGRESS, SignalStatus.CLOSED, SignalStatus.WITHDRAWN},
    SignalStatus.IN_PROGRESS: {SignalStatus.CLOSED, SignalStatus.WITHDRAWN},
    SignalStatus.CLOSED: {SignalStatus.IN_PROGRESS},
    SignalStatus.WITHDRAWN: set(),
}


def update_signal(author: User, public_id, data: SignalInput, *, ip: str) -> Signal:
    signal = own_signal(author, public_id)
    was_shared = signal.shared_at is not None
    _apply(signal, data, school=signal.school_location, district=signal.district)
    new_status = _choice(SignalStatus, data.status or signal.status.value, "status")
    if new_status is not signal.status:
        _change_status(signal, new_status, author)
    signal.updated_at = utcnow()
    db.session.flush()
    audit.record("signal.update", actor=author, ip=ip, object_type="signal", object_id=str(signal.public_id))
    if signal.shared_at is not None:  # a draft, shared or not yet, or withdrawn unshared, stays unpublished
        append_events(signal, "signal.updated" if was_shared else "signal.created")
        _raise_acute_if_needed(signal)
    return signal


def _change_status(signal: Signal, status: SignalStatus, actor: User) -> None:
    if status not in TRANSITIONS[signal.status]:
        raise ValidationFailed("This status change is not possible.", field="status")
    db.session.add(
        SignalStatusChange(
            signal_id=signal.id, from_status=signal.status.value, to_status=status.value, changed_by_id=actor.id
        )
    )
    signal.status = status
    signal.closed_at = utcnow() if status is SignalStatus.CLOSED else None
    if status is SignalStatus.SHARED and signal.shared_at is None:
        signal.shared_at = utcnow()


def set_status(author: User, public_id, status: str, *, ip: str) -> Signal:
    """Close, reopen or withdraw an own signal; sharing a draft publishes it to the rooms. Withdrawing a draft that
    was never shared publishes nothing: it stays its author's alone."""
    signal = own_signal(author, public_id)
    was_shared = signal.shared_at is not None
    _change_status(signal, _choice(SignalStatus, status, "status"), author)
    signal.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "signal.status",
        actor=author,
        ip=ip,
        object_type="signal",
        object_id=str(signal.public_id),
        details={"to": signal.status.value},
    )
    if signal.shared_at is not None:
        append_events(signal, "signal.updated" if was_shared else "signal.created")
        _raise_acute_if_needed(signal)
    return signal


def add_response(user: User, public_id, kind: str, text_html: str, client_key: str, *, ip: str) -> SignalResponse:
    if not has_permission(user, Permission.SIGNAL_RESPOND):
        raise PermissionDenied("You may not respond to signals.")
    viewer = queries.viewer_for(user)
    signal = queries.get_visible_signal(viewer, public_id)
    key = _client_key(client_key)
    existing = db.session.scalar(
        select(SignalResponse).where(SignalResponse.author_id == user.id, SignalResponse.client_key == key)
    )
    if existing is not None:
        return existing
    cleaned = clean_rich_text(text_html or "")
    if len(html_to_text(cleaned)) > RESPONSE_MAX:
        raise ValidationFailed("The text is longer than %(max)s characters.", field="text", max=RESPONSE_MAX)
    response_kind = _choice(ResponseKind, kind, "kind")
    if response_kind is not ResponseKind.ACKNOWLEDGED and not html_to_text(cleaned).strip():
        raise ValidationFailed("Write your response.", field="text")
    response = SignalResponse(
        signal=signal,
        author=user,
        organisation_id=user.organisation_id,
        kind=response_kind,
        text_html=cleaned,
        client_key=key,
    )
    db.session.add(response)
    db.session.execute(update(Signal).where(Signal.id == signal.id).values(response_count=Signal.response_count + 1))
    db.session.flush()
    db.session.refresh(signal)
    audit.record(
        "signal.respond",
        actor=user,
        ip=ip,
        object_type="signal",
        object_id=str(signal.public_id),
        details={"kind": response_kind.value},
    )
    append_events(signal, "signal.response")
    return response


def recognise(user: User, public_id, *, ip: str) -> Signal:
    """ "Herkenbaar": counted once per person; the poster's own organisation cannot recognise its own signal."""
    if not has_permission(user, Permission.SIGNAL_RESPOND):
        raise PermissionDenied("You may not respond to signals.")
    viewer = queries.viewer_for(user)
    signal = queries.get_visible_signal(viewer, public_id)
    # Organisation-wide, unlike reading as one's own: "herkenbaar" counts other organisations that see the same,
    # so a colleague of the poster in another district does not add to it either.
    if viewer.is_own(signal) or signal.organisation_id == viewer.organisation_id:
        raise ValidationFailed("You cannot recognise a signal of your own organisation.", field="signal")
    exists = db.session.scalar(
        select(SignalRecognition.id).where(
            SignalRecognition.signal_id == signal.id, SignalRecognition.user_id == user.id
        )
    )
    if exists is None:
        db.session.add(SignalRecognition(signal_id=signal.id, user_id=user.id, organisation_id=user.organisation_id))
        db.session.execute(
            update(Signal).where(Signal.id == signal.id).values(recognised_count=Signal.recognised_count + 1)
        )
        db.session.flush()
        db.session.refresh(signal)
        audit.record("signal.recognise", actor=user, ip=ip, object_type="signal", object_id=str(signal.public_id))
        append_events(signal, "signal.recognised")
    return signal


def record_read(user: User, signal: Signal, *, ip: str, action: str = "signal.read") -> None:
    """Every read of a signal's detail is audited (NEN 7513)."""
    audit.record(action, actor=user, ip=ip, object_type="signal", object_id=str(signal.public_id))


def record_search(user: User, *, ip: str, results: int, searched: bool, action: str = "signal.list") -> None:
    audit.record(
        "signal.search" if searched else action,
        actor=user,
        ip=ip,
        object_type="signal_list",
        details={"results": results},
    )


def link_related(user: User, public_id, other_reference: str, *, ip: str) -> Signal:
    """Mark two signals as related. Both must be visible to the user; the pair is stored once."""
    from portal.signals.models import signal_links

    if not has_permission(user, Permission.SIGNAL_RESPOND):
        raise PermissionDenied("You may not respond to signals.")
    viewer = queries.viewer_for(user)
    signal = queries.get_visible_signal(viewer, public_id)
    reference = clean_text(other_reference, field="reference", max_length=20).upper()
    other = queries.get_visible_by_reference(viewer, reference)
    if other is None:
        raise ValidationFailed("No signal with this reference that you can see.", field="reference")
    if other.id == signal.id:
        raise ValidationFailed("A signal cannot be related to itself.", field="reference")
    low, high = sorted((signal.id, other.id))
    exists = db.session.execute(
        select(signal_links.c.signal_id).where(signal_links.c.signal_id == low, signal_links.c.related_id == high)
    ).first()
    if exists is None:
        db.session.execute(signal_links.insert().values(signal_id=low, related_id=high))
        audit.record(
            "signal.link",
            actor=user,
            ip=ip,
            object_type="signal",
            object_id=str(signal.public_id),
            details={"related": str(other.public_id)},
        )
    return signal
