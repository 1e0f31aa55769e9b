"""``flask portal ...``: administration from the command line. Thin adapters over the services."""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from werkzeug.serving import WSGIRequestHandler

from portal.core.db import commit
from portal.core.errors import ValidationFailed
from portal.extensions import socketio

portal_cli = AppGroup("portal", help="Administration of the school-safety portal.")
audit_cli = AppGroup("audit", help="The tamper-evident audit trail.")
demo_cli = AppGroup("demo", help="The Almere demo data.")
taxonomy_cli = AppGroup("taxonomy", help="Reference data (categories, location types, ...).")
portal_cli.add_command(audit_cli)
portal_cli.add_command(demo_cli)
portal_cli.add_command(taxonomy_cli)
token_cli = AppGroup("token", help="Personal access tokens for the JSON API.")
portal_cli.add_command(token_cli)


@portal_cli.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--organisation", "organisation_code", required=True, help="Code of an existing organisation.")
@click.password_option(help="Break-glass password (asked for when not given).")
def create_admin(email: str, name: str, organisation_code: str, password: str) -> None:
    """Create a break-glass functional administrator with a TOTP second factor."""
    from portal.authz.permissions import Role, ScopeType
    from portal.identity import services
    from portal.identity.passwords import new_totp_secret, totp_uri
    from portal.organisations.services import get_organisation

    organisation = get_organisation(organisation_code)
    if organisation is None:
        raise click.ClickException(f"No organisation with code {organisation_code!r}.")
    if len(password) < 12:
        raise click.ClickException("Use a password of at least 12 characters.")
    try:
        user = services.create_user(email=email, display_name=name, organisation=organisation, password=password)
    except ValidationFailed as error:
        raise click.ClickException(error.message) from error
    services.assign_role(user, Role.FUNCTIONAL_ADMIN, ScopeType.CITY, actor=None, source="cli")
    secret = new_totp_secret()
    user.credential.totp_secret = secret
    commit()
    click.echo(f"Administrator {user.email} created.")
    click.echo("Add this key to an authenticator app (the code is asked for at every sign-in):")
    click.echo(f"  {totp_uri(secret, user.email)}")


@demo_cli.command("load")
def demo_load() -> None:
    """Load the Almere demo data (idempotent)."""
    from portal.demo.loader import load_demo

    report = load_demo(current_app.config["DEMO_PASSWORD"])
    commit()
    click.echo(
        f"Demo data: {report.created} objects added ({'none: already loaded' if not report.created else 'new'})."
    )


@demo_cli.command("accounts")
def demo_accounts() -> None:
    """Print the demo accounts and how to sign in."""
    from portal.demo import data

    click.echo("Demo accounts (password: the value of PORTAL_DEMO_PASSWORD, default shown below):")
    for code, *_rest in data.SCHOOLS[:3]:
        click.echo(f"  coordinator.{code}@{data.EMAIL_DOMAIN}   school safety coordinator")
    click.echo(f"  ... one coordinator per school: coordinator.<school-code>@{data.EMAIL_DOMAIN}")
    for district in ("stad", "buiten"):
        click.echo(f"  wijkagent.{district}@{data.EMAIL_DOMAIN}   police officer with school task")
        click.echo(f"  veiligheidsmanager.{district}@{data.EMAIL_DOMAIN}   district safety manager")
    for local, _name, _org, role, *_ in data.OTHER_USERS:
        click.echo(f"  {local}@{data.EMAIL_DOMAIN}   {role}")
    click.echo(f"Password: {current_app.config['DEMO_PASSWORD']}")


@taxonomy_cli.command("load")
def taxonomy_load() -> None:
    """Add missing reference terms (never overwrites edited ones)."""
    from portal.signals.taxonomy import load_reference_data

    added = load_reference_data()
    commit()
    click.echo(f"Reference data: {added} terms added.")


@token_cli.command("create")
@click.option("--user", "email", required=True, help="E-mail address of an active account.")
@click.option("--days", default=90, show_default=True, type=click.IntRange(1, 365), help="Days until it expires.")
@click.option("--name", default="cli", show_default=True, help="A name to recognise the token by.")
def token_create(email: str, days: int, name: str) -> None:
    """Create a personal access token and print it (shown once; only its hash is stored)."""
    from portal.identity import tokens
    from portal.identity.services import find_user_by_email

    try:
        user = find_user_by_email(email)
        if user is None:
            raise click.ClickException(f"No account with e-mail address {email!r}.")
        issued = tokens.create_token(user, name=name, days=days, via="cli")
    except ValidationFailed as error:
        raise click.ClickException(error.message) from error
    commit()
    click.echo(
        f"Token {issued.token.name!r} for {user.email}, valid until {issued.token.expires_at:%Y-%m-%d %H:%M} UTC:"
    )
    click.echo(issued.secret)


@audit_cli.command("verify")
@click.option(
    "--expect-head",
    metavar="ID:HASH",
    help="The head printed by an earlier run and kept outside the portal: detects records removed from the end.",
)
def audit_verify(expect_head: str | None) -> None:
    """Walk the hash chain; exit 1 and name the first broken record if any. Prints the head to keep elsewhere."""
    from portal.audit.services import parse_head, verify_chain

    try:
        expected = parse_head(expect_head) if expect_head else None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--expect-head") from error
    report = verify_chain(expect_head=expected)
    if report.ok:
        click.echo(f"Audit trail intact: {report.checked} records verified.")
        click.echo(f"Head: {report.head}")
        return
    click.echo(
        f"Audit trail BROKEN at record {report.first_broken_id}: {report.reason} "
        f"({report.checked} records before it are intact).",
        err=True,
    )
    raise SystemExit(1)


acute_cli = AppGroup("acute", help="Acute signals.")
portal_cli.add_command(acute_cli)


@acute_cli.command("escalate")
@click.option("--minutes", type=int, default=None, help="Default: PORTAL_ACUTE_ESCALATION_MINUTES.")
def acute_escalate(minutes: int | None) -> None:
    """Escalate unacknowledged acute signals to the room's chair (run every minute from cron or a timer)."""
    from portal.police.services import escalate_overdue

    count = escalate_overdue(minutes or current_app.config["ACUTE_ESCALATION_MINUTES"])
    commit()
    click.echo(f"{count} acute signal(s) escalated.")


retention_cli = AppGroup("retention", help="Retention of signals (anonymise, delete).")
portal_cli.add_command(retention_cli)


@retention_cli.command("run")
@click.option("--dry-run", is_flag=True, help="Only count what is due.")
def retention_run(dry_run: bool) -> None:
    """Anonymise and delete what is due; keeps content-free deletion records; honours legal holds."""
    from portal.privacy import retention

    plan = retention.plan_from_config()
    with click.progressbar(length=0, label="Retention", show_pos=True) as bar:
        report = retention.run(plan, dry_run=dry_run, progress=bar.update)
    verb = "would be" if dry_run else "were"
    click.echo(
        f"{report.anonymised} signal(s) {verb} anonymised, {report.deleted} {verb} deleted; "
        f"{report.held} under legal hold."
    )


backup_cli = AppGroup("backup", help="Backups of the database, their restore and the restore drill's check.")
portal_cli.add_command(backup_cli)
_PG_BIN = click.option("--pg-bin", metavar="DIR", help="Directory of pg_dump/pg_restore (default: from PATH).")


@backup_cli.command("create")
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The dump to write.")
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path), help="Default: OUTPUT.manifest.json")
@_PG_BIN
def backup_create(output: Path, manifest: Path | None, pg_bin: str | None) -> None:
    """Dump the database (pg_dump / SQLite backup API) and write its manifest (revision, rows, audit head)."""
    from portal.ops import backup

    try:
        result = backup.create(output, manifest, pg_bin=pg_bin)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo("\n".join(result.summary()))
    if not result.manifest.audit_intact:
        click.echo(f"Backup written, but the audit trail is BROKEN at {result.manifest.audit_problem}.", err=True)
        raise SystemExit(1)


@backup_cli.command("restore")
@click.option("--input", "dump", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path), help="Default: INPUT.manifest.json")
@click.option("--force", is_flag=True, help="Replace the contents of a database that is not empty.")
@_PG_BIN
def backup_restore(dump: Path, manifest: Path | None, force: bool, pg_bin: str | None) -> None:
    """Restore a dump into the configured (empty) database; checks the dump against its manifest first."""
    from portal.ops import backup

    try:
        result = backup.restore(dump, manifest, force=force, pg_bin=pg_bin)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo("\n".join(result.summary()))


@backup_cli.command("verify")
@click.option("--manifest", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--expect-head", metavar="ID:HASH", help="A head kept outside the portal: it must be in the chain.")
def backup_verify(manifest: Path, expect_head: str | None) -> None:
    """The restore drill's check: migrations at head, rows per table and the audit chain as in the manifest."""
    from portal.audit.services import parse_head
    from portal.ops import backup

    try:
        expected = parse_head(expect_head) if expect_head else None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--expect-head") from error
    try:
        result = backup.verify(manifest, expect_head=expected)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo("\n".join(result.table()))
    if not result.ok:
        click.echo(f"Backup verification FAILED: {len(result.failed)} of {len(result.checks)} checks.", err=True)
        raise SystemExit(1)
    click.echo(f"Backup verified: all {len(result.checks)} checks ok ({result.seconds:.2f} s).")


@portal_cli.command("config-doc")
def config_doc() -> None:
    """Print the configuration reference (Markdown) for the README."""
    from portal.config import SETTINGS

    click.echo("| Variable | Default | Meaning |\n|---|---|---|")
    for s in SETTINGS:
        default = "" if s.default is None else f"`{s.default}`"
        click.echo(f"| `PORTAL_{s.name}` | {default} | {s.doc} |")


@portal_cli.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
def serve(host: str, port: int) -> None:
    """Development server with live sockets (production: gunicorn + gevent, see README). Its request log holds the
    path of each request, never the query string (docs/logging.md)."""
    from portal.realtime.worker import PortalWebSocketHandler, without_query

    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    click.echo(f"Portal on http://{host}:{port}  (Ctrl+C stops)")
    if app.config["SOCKETIO_ASYNC_MODE"] == "gevent":
        # Flask-SocketIO's gevent server would use gevent-websocket's handler, which logs the whole request line.
        from gevent import pywsgi

        pywsgi.WSGIServer((host, port), app, handler_class=PortalWebSocketHandler).serve_forever()
        return

    class PathOnlyRequestHandler(WSGIRequestHandler):
        """Werkzeug's request log line with the path only: search and filter terms may name a pupil."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            # Werkzeug builds the line from ``path`` (or ``requestline`` when the request line was malformed);
            # show it the path without the query, and put the originals back for the rest of the request.
            saved = {name: self.__dict__[name] for name in ("path", "requestline") if name in self.__dict__}
            self.__dict__.update({name: without_query(value or "") for name, value in saved.items()})
            try:
                super().log_request(code, size)
            finally:
                self.__dict__.update(saved)

        def log_error(self, message: str, *args) -> None:
            # http.server quotes a malformed request line, query and all ("Bad request syntax ('GET /?q=...')").
            super().log_error(message, *(without_query(a) if isinstance(a, str) else a for a in args))

    # Flask ignores app.run() inside its CLI (meant for `flask run`); this command *is* the server.
    os.environ.pop("FLASK_RUN_FROM_CLI", None)
    socketio.run(
        app,
        host=host,
        port=port,
        debug=False,
        use_reloader=False,
        allow_unsafe_werkzeug=True,
        request_handler=PathOnlyRequestHandler,
    )


def register(app: Flask) -> None:
    app.cli.add_command(portal_cli)
