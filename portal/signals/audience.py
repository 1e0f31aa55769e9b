"""Who sees a signal, and how much of it: the one rule for every channel (docs/security.md, "Who reads a signal").

The same answer serves the SQL of every read (pages, API, exports, search, socket replay: ``audience_clause``), the
fields a viewer gets (``Viewer.fields_for``), who may change a signal (``Viewer.may_edit``) and the socket channels
an event travels on (``channels_for``, ``owner_channels``, ``owning_organisations_in_room``).

*Own* signals are read in full. A signal is the viewer's own when the viewer posted it, when it is about the viewer's
school location, or when the viewer's organisation posted it *within the viewer's own scope*: a school location is
one place, so all of its signals are its staff's own; an organisation that works in several districts (the
municipality, a police unit, youth work) reads its colleagues' signals as its own only in the districts where the
viewer holds a current room seat. Everything else is seen through the sharing scope, the viewer's room seats and the
visibility matrix (``signals/visibility.py``) -- or not at all. Nobody without a signal-reading permission sees any
signal, whoever posted it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import and_, false, or_, select

from portal.authz.permissions import Permission
from portal.authz.policy import has_permission, viewer_kind
from portal.extensions import db
from portal.identity.models import User
from portal.organisations.models import Organisation, OrganisationKind
from portal.rooms.models import Room, RoomKind, RoomMembership
from portal.rooms.queries import current_membership_clause
from portal.signals.models import (
    Classification,
    SharingScope,
    Signal,
    signal_districts,
    signal_recipients,
)
from portal.signals.visibility import OWN_FIELDS, POLICE_DETAILS, build_matrix


@dataclass(frozen=True)
class Viewer:
    """Everything the audience rule needs about one user, computed once per request."""

    user: User
    user_id: int
    organisation_id: int
    board_id: int | None
    kind: str | None
    room_ids: frozenset[int]
    district_ids: frozenset[int]
    in_city_room: bool
    reads_rooms: bool
    reads_shared: bool
    one_location: bool = False  # the viewer's organisation is a school location: all its signals are its own
    posts: bool = False  # may post (and so edit own) signals
    visible_fields: dict[str, frozenset[str] | None] = field(default_factory=dict)

    def classifications(self) -> list[Classification]:
        return [Classification(c) for c, fields in self.visible_fields.items() if fields is not None]

    def classes_showing(self, field_name: str) -> list[Classification]:
        """Classifications of which this viewer sees ``field_name`` (for others' signals)."""
        return [Classification(c) for c, f in self.visible_fields.items() if f is not None and field_name in f]

    # --- own signals: read in full ---------------------------------------------------------------------------

    def _organisation_clause(self):
        """Signals of the viewer's organisation within the viewer's own scope (see the module docstring)."""
        if self.one_location:
            return Signal.organisation_id == self.organisation_id
        if not self.district_ids:
            return false()
        return and_(Signal.organisation_id == self.organisation_id, Signal.district_id.in_(sorted(self.district_ids)))

    def own_clause(self):
        if not self.reads_rooms:
            return false()
        return or_(
            Signal.created_by_id == self.user_id,
            self._organisation_clause(),
            Signal.school_location_id == self.organisation_id,
        )

    def _organisation_owns(self, signal: Signal) -> bool:
        return signal.organisation_id == self.organisation_id and (
            self.one_location or signal.district_id in self.district_ids
        )

    def is_own(self, signal: Signal) -> bool:
        return self.reads_rooms and (
            signal.created_by_id == self.user_id
            or self._organisation_owns(signal)
            or signal.school_location_id == self.organisation_id
        )

    def may_edit(self, signal: Signal) -> bool:
        """Editing, withdrawing and person references: the poster, or a colleague of the posting organisation
        within the same scope, and only people who may post. The school a signal is *about* reads it in full and
        responds, but does not rewrite what another organisation posted."""
        return (
            self.posts
            and self.reads_rooms
            and (signal.created_by_id == self.user_id or self._organisation_owns(signal))
        )

    def fields_for(self, signal: Signal) -> frozenset[str] | None:
        """The restricted fields this viewer sees of ``signal`` (all of its own)."""
        granted = self.visible_fields.get(signal.classification.value)
        if self.is_own(signal):
            return OWN_FIELDS | ((granted or frozenset()) & {POLICE_DETAILS})
        return granted


def matrix() -> dict:
    app = current_app
    cached = app.extensions.get("portal_visibility_matrix")
    if cached is None:
        cached = build_matrix(app.config.get("SIGNAL_VISIBILITY"))
        app.extensions["portal_visibility_matrix"] = cached
    return cached


def viewer_for(user: User) -> Viewer:
    organisation: Organisation = user.organisation
    if organisation.kind is OrganisationKind.SCHOOL_BOARD:
        board_id = organisation.id
    elif organisation.kind is OrganisationKind.SCHOOL_LOCATION:
        board_id = organisation.parent_id
    else:
        board_id = None
    # The rooms of the user's current seats in one statement (a socket connect and every page build a viewer).
    rooms = (
        db.session.execute(
            select(Room.id, Room.kind, Room.district_id)
            .join(RoomMembership, RoomMembership.room_id == Room.id)
            .where(RoomMembership.user_id == user.id, *current_membership_clause())
        ).all()
        if getattr(user, "id", None)
        else []
    )
    kind = viewer_kind(user)
    return Viewer(
        user=user,
        user_id=user.id,
        organisation_id=organisation.id,
        board_id=board_id,
        kind=kind,
        room_ids=frozenset(r.id for r in rooms),
        district_ids=frozenset(r.district_id for r in rooms if r.kind is RoomKind.DISTRICT and r.district_id),
        in_city_room=any(r.kind is RoomKind.CITY for r in rooms),
        reads_rooms=has_permission(user, Permission.SIGNAL_READ),
        reads_shared=has_permission(user, Permission.SIGNAL_READ_SHARED),
        one_location=organisation.kind is OrganisationKind.SCHOOL_LOCATION,
        posts=has_permission(user, Permission.SIGNAL_CREATE),
        visible_fields=matrix().get(kind, {}) if kind else {},
    )


def audience_clause(viewer: Viewer):
    """SQL condition: the signals this viewer may see (status, audience, classification)."""
    shared: list = []
    if viewer.reads_rooms:
        if viewer.board_id is not None:
            board_schools = select(Organisation.id).where(Organisation.parent_id == viewer.board_id)
            shared.append(
                and_(Signal.sharing_scope == SharingScope.OWN_BOARD, Signal.school_location_id.in_(board_schools))
            )
        if viewer.district_ids:
            ids = list(viewer.district_ids)
            extra = select(signal_districts.c.signal_id).where(signal_districts.c.district_id.in_(ids))
            shared.append(and_(Signal.sharing_scope == SharingScope.DISTRICT, Signal.district_id.in_(ids)))
            shared.append(
                and_(
                    Signal.sharing_scope == SharingScope.DISTRICTS,
                    or_(Signal.district_id.in_(ids), Signal.id.in_(extra)),
                )
            )
        if viewer.district_ids or viewer.in_city_room:
            shared.append(Signal.sharing_scope == SharingScope.CITY)
    if viewer.reads_shared:
        named = select(signal_recipients.c.signal_id).where(
            signal_recipients.c.organisation_id == viewer.organisation_id
        )
        shared.append(and_(Signal.sharing_scope == SharingScope.NAMED, Signal.id.in_(named)))
    if not shared and not viewer.reads_rooms:
        return false()
    allowed = viewer.classifications()
    others = and_(
        or_(*shared) if shared else false(),
        Signal.classification.in_(allowed) if allowed else false(),
        Signal.shared_at.is_not(None),  # drafts, and drafts withdrawn unshared, are their author's alone
    )
    if not viewer.reads_rooms:
        return others
    # Drafts (and drafts withdrawn without being shared) are seen by their author only.
    return or_(
        Signal.created_by_id == viewer.user_id,
        and_(viewer.own_clause(), Signal.shared_at.is_not(None)),
        others,
    )


# --- socket channels --------------------------------------------------------------------------------------------
#
# Joined by the server in realtime/namespaces.py (``channels_for``), never named by a client:
#   aud:<room id>:<viewer kind>:<organisation id>        - room-wide shares, per room the user has a seat in
#   org:<organisation id>:<viewer kind>                  - own signals of a school location, and shares limited to
#                                                          a school location or its board
#   own:<organisation id>:<district id>:<viewer kind>    - own signals of an organisation that works in several
#                                                          districts, per district the user has a seat in
#   named:<organisation id>:<viewer kind>                - shares with named organisations
# An event is encoded once per variant (what a viewer kind may see, or what the owners see) and emitted to the list
# of channels of that variant: no per-recipient loop (docs/performance.md).


def aud_channel(room_id: int, kind: str, organisation_id: int) -> str:
    return f"aud:{room_id}:{kind}:{organisation_id}"


def org_channel(organisation_id: int, kind: str) -> str:
    return f"org:{organisation_id}:{kind}"


def own_channel(organisation_id: int, district_id: int, kind: str) -> str:
    return f"own:{organisation_id}:{district_id}:{kind}"


def named_channel(organisation_id: int, kind: str) -> str:
    return f"named:{organisation_id}:{kind}"


def channels_for(viewer: Viewer) -> list[str]:
    """Every channel this viewer's sockets belong in, derived from the database only."""
    if viewer.kind is None:
        return []
    channels = []
    if viewer.reads_rooms:
        channels += [aud_channel(room_id, viewer.kind, viewer.organisation_id) for room_id in sorted(viewer.room_ids)]
        if viewer.one_location:
            channels.append(org_channel(viewer.organisation_id, viewer.kind))
        else:
            channels += [own_channel(viewer.organisation_id, d, viewer.kind) for d in sorted(viewer.district_ids)]
    if viewer.reads_shared:
        channels.append(named_channel(viewer.organisation_id, viewer.kind))
    return channels


def owner_organisations(signal: Signal) -> set[int]:
    """Organisations some of whose people may read ``signal`` as their own (the poster's, the school's)."""
    return {signal.organisation_id} | ({signal.school_location_id} if signal.school_location_id else set())


def owner_channels(signal: Signal, kinds) -> list[str]:
    """The channels of everyone who reads ``signal`` as their own, outside the room streams: the school concerned
    and a posting school location as a whole, a posting organisation of several districts in the signal's district
    only."""
    channels = []
    if signal.school_location_id:
        channels += [org_channel(signal.school_location_id, k) for k in kinds]
    if signal.organisation_id != signal.school_location_id:
        if signal.organisation.kind is OrganisationKind.SCHOOL_LOCATION:
            channels += [org_channel(signal.organisation_id, k) for k in kinds]
        else:
            channels += [own_channel(signal.organisation_id, signal.district_id, k) for k in kinds]
    return channels


def owning_organisations_in_room(signal: Signal, room: Room, member_organisations: set[int]) -> set[int]:
    """Of the organisations with seats in ``room``, those whose members there read ``signal`` as their own: the
    school concerned, a posting school location, and a posting organisation of several districts only in the room
    of the signal's own district (in any other room its people see what the matrix shows them)."""
    owners = set()
    if signal.school_location_id in member_organisations:
        owners.add(signal.school_location_id)
    if signal.organisation_id in member_organisations and (
        signal.organisation.kind is OrganisationKind.SCHOOL_LOCATION
        or (room.kind is RoomKind.DISTRICT and room.district_id == signal.district_id)
    ):
        owners.add(signal.organisation_id)
    return owners
