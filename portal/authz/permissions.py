"""The catalogue: roles (docs/domain.md B.5) and permissions named ``<scope>:<resource>:<action>``. Imports nothing."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    SCHOOL_COORDINATOR = "school_coordinator"  # Schoolveiligheidscoördinator / contactpersoon veiligheid
    SCHOOL_DIRECTOR = "school_director"  # Schoolleider / directeur
    BOARD_OFFICER = "board_officer"  # Bestuurder / beleidsmedewerker bestuur
    POLICE_OFFICER = "police_officer"  # Wijkagent met schooltaak / schoolagent / jeugdagent
    POLICE_EXPERT = "police_expert"  # Operationeel expert jeugd / teamchef
    OM_OFFICER = "om_officer"  # Jeugdofficier / parketsecretaris
    DISTRICT_SAFETY_MANAGER = "district_safety_manager"  # Veiligheidsmanager stadsdeel
    COVENANT_COORDINATOR = "covenant_coordinator"  # Beleidsadviseur school & veiligheid
    ATTENDANCE_OFFICER = "attendance_officer"  # Leerplichtambtenaar
    PARTNER = "partner"  # Jongerenwerker, jeugdboa, GGD/JGZ, Vitree, Halt (invited guests)
    FUNCTIONAL_ADMIN = "functional_admin"  # Functioneel beheerder
    PRIVACY_OFFICER = "privacy_officer"  # FG / privacy officer


class ScopeType(enum.StrEnum):
    LOCATION = "location"
    SCHOOL = "school"
    BOARD = "board"
    DISTRICT = "district"
    CITY = "city"


class Permission(enum.StrEnum):
    # Rooms and their content
    ROOM_READ = "rooms:room:read"
    SIGNAL_CREATE = "signals:signal:create"
    SIGNAL_READ = "signals:signal:read"
    SIGNAL_RESPOND = "signals:signal:respond"
    SIGNAL_READ_SHARED = "signals:shared:read"  # signals explicitly shared with the user's organisation
    POLICE_VIEW = "police:signals:read"  # the police overview across the officer's districts
    POLICE_FOLLOW_UP = "police:followup:write"  # record police follow-up (with the restricted police reference)
    ACUTE_ACKNOWLEDGE = "police:acute:acknowledge"
    AGGREGATE_READ = "reports:aggregate:read"
    # Meetings
    MEETING_READ = "meetings:meeting:read"
    MEETING_PROPOSE = "meetings:agenda:propose"
    MEETING_MANAGE = "meetings:meeting:manage"  # organise the meetings of a district network
    MEETING_MANAGE_CITY = "meetings:city_meeting:manage"  # organise the city-wide and directors' meetings
    MEETING_SCHOOL_INPUT = "meetings:school_input:submit"  # the school's top-3 concerns before a meeting
    MEETING_PARTNER_PICTURE = "meetings:partner_picture:submit"  # the written "beeld" of police and street partners
    MEETING_EXPORT = "meetings:meeting:export"  # PDF and calendar exports (watermarked, audited)
    MINUTES_COMMENT = "meetings:minutes:comment"  # the comment round on draft minutes
    ACTION_UPDATE = "meetings:action:update"  # progress on actions owned by the user's organisation
    # Administration
    ADMIN_ACCESS = "admin:portal:access"
    ADMIN_ORGANISATIONS = "admin:organisation:manage"
    ADMIN_USERS = "admin:user:manage"
    ADMIN_ROOMS = "admin:room:manage"
    ADMIN_TAXONOMY = "admin:taxonomy:manage"
    # Privacy and audit
    AUDIT_READ = "audit:log:read"
    AUDIT_VERIFY = "audit:log:verify"
    ACCESS_REPORT = "privacy:access:read"  # who opened which signal (privacy officer)
    SUBJECT_REQUESTS = "privacy:subject:manage"  # find, export, rectify and erase a data subject's data
    RETENTION_READ = "privacy:retention:read"
