"""Live events of signals: what each change of a signal tells whom (``plan_signal_event``), sent after the commit by
the transport in realtime/publish.py. Who may see what is the audience rule's (signals/audience.py)."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.identity.models import User
from portal.organisations.models import Organisation
from portal.realtime import publish
from portal.rooms.models import Room, RoomMembership
from portal.rooms.queries import current_membership_clause
from portal.signals import audience
from portal.signals.models import SharingScope, Signal
from portal.signals.presenter import present
from portal.signals.queries import _eager, load_reference_data
from portal.signals.visibility import OWN_FIELDS, POLICE_DETAILS, VIEWER_KINDS


def signal_event(kind: str, signal_id: int, room_seqs: list[tuple[int, int]]) -> None:
    """After commit: push ``kind`` for the signal to every socket whose user may see it, in each room's stream.
    An event is encoded once per variant and emitted to the list of channels of that variant: no per-recipient
    loop (docs/performance.md)."""
    publish.emit_after_commit(lambda: plan_signal_event(kind, signal_id, room_seqs), f"{kind} {signal_id}")


def plan_signal_event(kind: str, signal_id: int, room_seqs: list[tuple[int, int]]):
    """Yield (event, payload, channels) per variant. Pure planning over the database: tested without sockets."""

    signal = db.session.scalar(select(Signal).where(Signal.id == signal_id).options(*_eager()))
    if signal is None:
        return
    load_reference_data([signal])
    visibility = audience.matrix()
    own_orgs = audience.owner_organisations(signal)
    classification = signal.classification.value
    variants = {
        k: present(signal, visibility[k][classification])
        for k in VIEWER_KINDS
        if visibility[k][classification] is not None
    }
    # The posting organisation sees its own fields; police details only where its row of the matrix grants them.
    own_fields = {
        k: OWN_FIELDS | ((visibility[k][classification] or frozenset()) & {POLICE_DETAILS}) for k in VIEWER_KINDS
    }
    own_variants: dict[frozenset, tuple[dict, list[str]]] = {}
    for k, fields in own_fields.items():
        own_variants.setdefault(fields, (present(signal, fields), []))[1].append(k)
    rooms = {r.id: r for r in db.session.scalars(select(Room).where(Room.id.in_([r for r, _ in room_seqs])))}

    scope = signal.sharing_scope
    if scope in (SharingScope.OWN_LOCATION, SharingScope.OWN_BOARD, SharingScope.NAMED):
        if scope is SharingScope.NAMED:
            targets = {o.id for o in signal.recipients} - own_orgs
            channel = audience.named_channel
        elif scope is SharingScope.OWN_BOARD and signal.school_location and signal.school_location.parent_id:
            board_id = signal.school_location.parent_id
            targets = set(db.session.scalars(select(Organisation.id).where(Organisation.parent_id == board_id)))
            targets -= own_orgs
            channel = audience.org_channel
        else:
            targets, channel = set(), audience.org_channel
        for room_id, seq in room_seqs:
            room_key = str(rooms[room_id].public_id)
            for payload, kinds in own_variants.values():
                yield kind, {"room": room_key, "seq": seq, "signal": payload}, audience.owner_channels(signal, kinds)
            for viewer_kind, payload in variants.items():
                channels = [channel(o, viewer_kind) for o in sorted(targets)]
                if channels:
                    yield kind, {"room": room_key, "seq": seq, "signal": payload}, channels
        return

    for room_id, seq in room_seqs:
        room = rooms[room_id]
        member_orgs = set(
            db.session.scalars(
                select(User.organisation_id)
                .join(RoomMembership, RoomMembership.user_id == User.id)
                .where(RoomMembership.room_id == room_id, *current_membership_clause())
                .distinct()
            )
        )
        room_key = str(room.public_id)
        own_in_room = audience.owning_organisations_in_room(signal, room, member_orgs)
        if own_in_room:
            for payload, kinds in own_variants.values():
                yield (
                    kind,
                    {"room": room_key, "seq": seq, "signal": payload},
                    [audience.aud_channel(room_id, k, o) for o in sorted(own_in_room) for k in kinds],
                )
        others = sorted(member_orgs - own_in_room)
        for viewer_kind, payload in variants.items():
            channels = [audience.aud_channel(room_id, viewer_kind, o) for o in others]
            if channels:
                yield kind, {"room": room_key, "seq": seq, "signal": payload}, channels
