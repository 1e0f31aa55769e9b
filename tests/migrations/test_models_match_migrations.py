"""The models and the migrations describe the same schema, on SQLite and PostgreSQL, and the migrations run down
to nothing and back up again."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy.engine import make_url

from portal.extensions import db

# The options of the app's Alembic context that decide what autogenerate compares.
COMPARISON_OPTIONS = ("compare_type", "compare_server_default", "include_object", "include_name", "include_schemas")


def _diff(connection, app) -> list:
    """What ``flask db migrate`` would put in a new revision, with the app's own comparison options."""
    options = app.extensions["migrate"].configure_args
    assert options.get("compare_type") is True  # the app compares column types; so does this test
    opts = {key: options[key] for key in COMPARISON_OPTIONS if key in options}
    context = MigrationContext.configure(connection, opts=opts)
    return compare_metadata(context, db.metadata)


def test_autogenerate_finds_no_difference(app):
    with app.app_context(), db.engine.connect() as connection:
        diff = _diff(connection, app)
    assert diff == [], "models and migrations differ; add a migration (flask db migrate) and review it"


def _table_names(engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def _audit_guards(engine) -> set[str]:
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            rows = connection.execute(
                sa.text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal")
            )
        else:
            rows = connection.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        return {row[0] for row in rows}


@pytest.fixture
def scratch_url(database_url, tmp_path):
    """An empty database next to the test database, dropped afterwards."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    url = make_url(database_url)
    name = f"{url.database}_scratch_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_downgrade_to_base_and_upgrade_again(app, build_app, scratch_url):
    scratch = build_app(DATABASE_URL=scratch_url)
    with scratch.app_context():
        engine = db.engine
        upgrade()
        tables = _table_names(engine)
        assert {"users", "user_sessions", "audit_events", "alembic_version"} <= tables
        assert _audit_guards(engine)

        downgrade(revision="base")
        assert _table_names(engine) <= {"alembic_version"}
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                leftover = connection.execute(
                    sa.text("SELECT proname FROM pg_proc WHERE proname = 'audit_events_append_only'")
                ).all()
            assert leftover == []

        upgrade()
        assert _table_names(engine) == tables
        assert _audit_guards(engine)
        engine.dispose()
