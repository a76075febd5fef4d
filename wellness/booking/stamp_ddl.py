"""The triggers that keep the slot stamps (``stamps.py``) current: plain SQL for SQLite
and PostgreSQL, with no model imports, so that migration 0010 and ``create_all`` install the
same statements. Changing them needs a new migration that drops and recreates them;
``tests/test_migrations.py`` checks that a migrated database and ``create_all`` agree.
"""

# The statements are built from this module's constant table and column names only.
# ruff: noqa: S608

from __future__ import annotations

STATION = "s"
COUNSELOR = "c"

# (table, stamp kind, column holding the stamp row's id). Insert, update and delete all
# touch the stamp of the row before and after the change.
_TOUCHES = (
    ("station_hours", STATION, "station_id"),
    ("station_closures", STATION, "station_id"),
    ("rooms", STATION, "station_id"),
    ("counselor_stations", STATION, "station_id"),
    ("group_sessions", STATION, "station_id"),
    ("counselor_profiles", COUNSELOR, "user_id"),
    ("availability_rules", COUNSELOR, "counselor_id"),
    ("availability_exceptions", COUNSELOR, "counselor_id"),
    ("time_off_periods", COUNSELOR, "counselor_id"),
)
# Rows that create a stamp row: (table, kind, column).
_CREATES = (
    ("stations", STATION, "id"),
    ("counselor_stations", COUNSELOR, "counselor_id"),
)
# A counsellor's name and standing show in, or decide, their slots.
_USER_COLUMNS = "name, active, role"

_SQLITE_RANDOM = "random()"
_PG_RANDOM = "floor(random() * 9.0e18)::bigint"

_CELL_TARGETS = """
    SELECT 'c', cells.resource_id FROM {rows} AS cells WHERE cells.resource = 'c'
    UNION
    SELECT 's', rooms.station_id FROM {rows} AS cells
      JOIN rooms ON rooms.id = cells.resource_id WHERE cells.resource = 'r'"""


def _sqlite_statements() -> list[str]:
    out = []
    for table, kind, column in _CREATES:
        out.append(
            f"CREATE TRIGGER slot_stamp_new_{table} AFTER INSERT ON {table} BEGIN "
            f"INSERT OR IGNORE INTO slot_stamps (kind, ref_id, stamp) "
            f"VALUES ('{kind}', NEW.{column}, {_SQLITE_RANDOM}); END"
        )
    for table, kind, column in _TOUCHES:
        for event_name, rows in (
            ("INSERT", ("NEW",)),
            ("UPDATE", ("OLD", "NEW")),
            ("DELETE", ("OLD",)),
        ):
            body = " ".join(
                f"UPDATE slot_stamps SET stamp = {_SQLITE_RANDOM} "
                f"WHERE kind = '{kind}' AND ref_id = {row}.{column};"
                for row in rows
            )
            out.append(
                f"CREATE TRIGGER slot_stamp_{table}_{event_name.lower()} AFTER {event_name} "
                f"ON {table} BEGIN {body} END"
            )
    out.append(
        f"CREATE TRIGGER slot_stamp_users_update AFTER UPDATE OF {_USER_COLUMNS} ON users "
        f"BEGIN UPDATE slot_stamps SET stamp = {_SQLITE_RANDOM} "
        f"WHERE kind = 'c' AND ref_id = NEW.id; END"
    )
    # A group session shows its unit's name: a renamed unit touches every station.
    out.append(
        f"CREATE TRIGGER slot_stamp_org_units_update AFTER UPDATE OF name ON org_units "
        f"BEGIN UPDATE slot_stamps SET stamp = {_SQLITE_RANDOM} WHERE kind = 's'; END"
    )
    # Cells: SQLite has row triggers only; the WHEN clause keeps a client's cells free.
    for event_name, rows in (
        ("INSERT", ("NEW",)),
        ("UPDATE", ("OLD", "NEW")),
        ("DELETE", ("OLD",)),
    ):
        for resource, target in (
            ("c", "kind = 'c' AND ref_id = {row}.resource_id"),
            (
                "r",
                "kind = 's' AND ref_id = (SELECT station_id FROM rooms "
                "WHERE id = {row}.resource_id)",
            ),
        ):
            for row in rows:
                out.append(
                    f"CREATE TRIGGER slot_stamp_cells_{resource}_{event_name.lower()}_"
                    f"{row.lower()} AFTER {event_name} ON booking_cells "
                    f"WHEN {row}.resource = '{resource}' BEGIN "
                    f"UPDATE slot_stamps SET stamp = {_SQLITE_RANDOM} "
                    f"WHERE {target.format(row=row)}; END"
                )
    return out


def _postgresql_statements() -> list[str]:
    out = [
        f"""CREATE OR REPLACE FUNCTION slot_stamp_new() RETURNS trigger AS $$
BEGIN
  INSERT INTO slot_stamps (kind, ref_id, stamp)
  VALUES (TG_ARGV[0], (to_jsonb(NEW) ->> TG_ARGV[1])::integer, {_PG_RANDOM})
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
        f"""CREATE OR REPLACE FUNCTION slot_stamp_touch() RETURNS trigger AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    UPDATE slot_stamps SET stamp = {_PG_RANDOM}
    WHERE kind = TG_ARGV[0] AND ref_id = (to_jsonb(OLD) ->> TG_ARGV[1])::integer;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    UPDATE slot_stamps SET stamp = {_PG_RANDOM}
    WHERE kind = TG_ARGV[0] AND ref_id = (to_jsonb(NEW) ->> TG_ARGV[1])::integer;
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
        f"""CREATE OR REPLACE FUNCTION slot_stamp_all() RETURNS trigger AS $$
BEGIN
  UPDATE slot_stamps SET stamp = {_PG_RANDOM} WHERE kind = TG_ARGV[0];
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
        # Cells are written many per statement: one statement-level trigger per statement
        # touches each counsellor and station once, in key order (no lock-order cycles).
        f"""CREATE OR REPLACE FUNCTION slot_stamp_cells() RETURNS trigger AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    UPDATE slot_stamps SET stamp = {_PG_RANDOM} WHERE (kind, ref_id) IN ({
            _CELL_TARGETS.format(rows="slot_old_cells")
        });
  END IF;
  IF TG_OP <> 'DELETE' THEN
    UPDATE slot_stamps SET stamp = {_PG_RANDOM} WHERE (kind, ref_id) IN ({
            _CELL_TARGETS.format(rows="slot_new_cells")
        });
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
    ]
    for table, kind, column in _CREATES:
        out.append(
            f"CREATE TRIGGER slot_stamp_new_{table} AFTER INSERT ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION slot_stamp_new('{kind}', '{column}')"
        )
    for table, kind, column in _TOUCHES:
        out.append(
            f"CREATE TRIGGER slot_stamp_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION slot_stamp_touch('{kind}', '{column}')"
        )
    out.append(
        f"CREATE TRIGGER slot_stamp_users AFTER UPDATE OF {_USER_COLUMNS} ON users "
        f"FOR EACH ROW EXECUTE FUNCTION slot_stamp_touch('c', 'id')"
    )
    out.append(
        "CREATE TRIGGER slot_stamp_org_units AFTER UPDATE OF name ON org_units "
        "FOR EACH STATEMENT EXECUTE FUNCTION slot_stamp_all('s')"
    )
    for event_name, referencing in (
        ("INSERT", "NEW TABLE AS slot_new_cells"),
        ("UPDATE", "OLD TABLE AS slot_old_cells NEW TABLE AS slot_new_cells"),
        ("DELETE", "OLD TABLE AS slot_old_cells"),
    ):
        out.append(
            f"CREATE TRIGGER slot_stamp_cells_{event_name.lower()} AFTER {event_name} "
            f"ON booking_cells REFERENCING {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION slot_stamp_cells()"
        )
    return out


def trigger_statements(dialect: str) -> list[str]:
    """The DDL that installs the triggers, for ``dialect`` ("sqlite" or "postgresql")."""
    if dialect == "sqlite":
        return _sqlite_statements()
    if dialect == "postgresql":
        return _postgresql_statements()
    raise ValueError(f"no slot stamp triggers for {dialect}")


def drop_statements(dialect: str) -> list[str]:
    """Undo ``trigger_statements`` (the migration's downgrade)."""
    if dialect == "sqlite":
        names = [s.split()[2] for s in _sqlite_statements()]
        return [f"DROP TRIGGER IF EXISTS {name}" for name in names]
    out = []
    for statement in _postgresql_statements():
        words = statement.split()
        if words[1] == "TRIGGER":
            out.append(f"DROP TRIGGER IF EXISTS {words[2]} ON {words[words.index('ON') + 1]}")
    out += [
        f"DROP FUNCTION IF EXISTS {name}()"
        for name in ("slot_stamp_new", "slot_stamp_touch", "slot_stamp_all", "slot_stamp_cells")
    ]
    return out


def backfill_statements(dialect: str) -> list[str]:
    """Stamp rows for the stations and counsellors that exist before the triggers."""
    random = _SQLITE_RANDOM if dialect == "sqlite" else _PG_RANDOM
    return [
        f"INSERT INTO slot_stamps (kind, ref_id, stamp) SELECT 's', id, {random} FROM stations",
        f"INSERT INTO slot_stamps (kind, ref_id, stamp) SELECT 'c', counselor_id, "
        f"{random} FROM (SELECT DISTINCT counselor_id FROM counselor_stations) AS c",
    ]


def create_triggers(_metadata, connection, **_kw) -> None:
    """``after_create`` listener of the metadata: the test and bench schemas (``create_all``)
    get the triggers the migrations install."""
    for statement in trigger_statements(connection.dialect.name):
        connection.exec_driver_sql(statement)
