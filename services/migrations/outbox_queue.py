"""The trigger that queues every event inserted into `outbox` for the relay
(a row in `outbox_pending`), for the migrations.

On SQLite a batch operation on `outbox` copies the table and loses the
trigger: a migration doing one calls `create_queue_trigger()` again after it.
"""

from alembic import op


def create_queue_trigger() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # One call per statement, whatever its number of rows (COPY included).
        op.execute(
            "CREATE FUNCTION outbox_queue() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN"
            "  INSERT INTO outbox_pending (id, partition_key)"
            "  SELECT id, partition_key FROM inserted;"
            "  RETURN NULL;"
            " END $$"
        )
        op.execute(
            "CREATE TRIGGER outbox_queue AFTER INSERT ON outbox"
            " REFERENCING NEW TABLE AS inserted"
            " FOR EACH STATEMENT EXECUTE FUNCTION outbox_queue()"
        )
    else:
        op.execute(
            "CREATE TRIGGER outbox_queue AFTER INSERT ON outbox BEGIN"
            " INSERT INTO outbox_pending (id, partition_key) VALUES (NEW.id, NEW.partition_key);"
            " END"
        )


def drop_queue_trigger() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER outbox_queue ON outbox")
        op.execute("DROP FUNCTION outbox_queue()")
    else:
        op.execute("DROP TRIGGER outbox_queue")
