"""Several writes in one statement, on PostgreSQL.

A hot path writes rows whose results it needs no more of than a row count: a webhook's payment
updates its attempt and its order and appends a history line; a payment link updates the order
and its attempt and appends a line. Each statement costs a round trip and about half a
millisecond of CPU (the ORM's compiling, the driver, the server). ``send`` takes writes compiled
by the ORM (``update``, ``insert``) and, on PostgreSQL, sends them as one statement: each write is
a data-modifying ``WITH`` query, which PostgreSQL runs exactly once whether or not the statement
reads it, all of them or none (one statement). What comes back is each write's row count, and
the key of each inserted row.

The rule that comes with it: the writes of one ``send`` must touch different rows. PostgreSQL
runs the ``WITH`` queries on one snapshot, so none sees another's change, and two changes to the
same row would not both hold. Reads that must see a write come after ``send``.

Elsewhere (SQLite) each write runs as the ORM would run it, one statement each, in the order
given, with the same row counts and keys. Either way the writes belong to the caller's
transaction: ``send`` opens none of its own.

An insert sends the model's ``pre_save`` and ``post_save`` signals, as ``save`` does
(django-tasks-db sets a task row's time in one), but does not run the model's own ``save``
method: use it for rows whose ``save`` adds nothing (the order's history lines, the outbox's
task rows). An update sends none, as ``QuerySet.update``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import Model, QuerySet
from django.db.models.signals import post_save, pre_save
from django.db.models.sql import InsertQuery, UpdateQuery


class Write:
    """One INSERT or UPDATE, compiled and not yet sent; ``rows`` once it is."""

    def __init__(
        self,
        *,
        model: type[Model],
        using: str,
        compile_: Callable[[], tuple[str, tuple[Any, ...]]],
        run: Callable[[], int],
        obj: Model | None = None,
        sent: Callable[[], None] | None = None,
    ) -> None:
        self.model = model
        self.using = using
        self._compile = compile_
        self._run = run
        self.obj = obj  # the row an insert adds: its key is set once sent
        self.sent = sent  # called once the write is sent (a signal that the row exists)
        self.rows: int | None = None

    def __repr__(self) -> str:
        kind = "insert" if self.obj is not None else "update"
        return f"<Write {kind} {self.model._meta.label} rows={self.rows}>"


def update(queryset: QuerySet, **values: Any) -> Write:
    """``queryset.update(**values)``, to be sent by ``send``. Fields with ``auto_now`` are not
    set by themselves here: name them in ``values``."""
    using: str = getattr(queryset, "_db", None) or router.db_for_write(queryset.model)

    def compile_() -> tuple[str, tuple[Any, ...]]:
        query = cast(UpdateQuery, queryset.query.chain(UpdateQuery))
        query.add_update_values(values)
        query.clear_select_clause()
        sql, params = query.get_compiler(using).as_sql()
        return sql, tuple(params)

    return Write(
        model=queryset.model,
        using=using,
        compile_=compile_,
        run=lambda: queryset.update(**values),
    )


def insert(
    obj: Model, *, using: str | None = None, sent: Callable[[], None] | None = None
) -> Write:
    """``obj.save(force_insert=True)`` for a new row, to be sent by ``send``: its fields' own
    ``pre_save`` (``auto_now_add``, defaults) apply, and its key is set once sent. ``sent``:
    called once it is."""
    model = type(obj)
    using = using or router.db_for_write(model, instance=obj)
    meta = model._meta

    def compile_() -> tuple[str, tuple[Any, ...]]:
        pre_save.send(sender=model, instance=obj, raw=False, using=using, update_fields=None)
        pk_set = obj.pk is not None
        fields = [
            f
            for f in meta.local_concrete_fields
            if not f.generated and (pk_set or f is not meta.auto_field)
        ]
        query = InsertQuery(model)
        query.insert_values(fields, [obj])
        [(sql, params)] = query.get_compiler(using).as_sql()
        return sql, tuple(params)

    def run() -> int:
        obj.save(force_insert=True, using=using)
        return 1

    return Write(model=model, using=using, compile_=compile_, run=run, obj=obj, sent=sent)


def send(*writes: Write) -> None:
    """Send ``writes``: one statement on PostgreSQL, one each elsewhere. Sets each one's
    ``rows`` and an inserted row's key. The writes must touch different rows (above)."""
    if not writes:
        return
    using = writes[0].using
    if any(write.using != using for write in writes):
        raise ValueError("The writes of one send go to one database.")
    connection = connections[using or DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql" or len(writes) == 1:
        for write in writes:
            write.rows = write._run()
    else:
        _send_as_one(connection, writes)
    for write in writes:
        if write.sent is not None:
            write.sent()


def _send_as_one(connection: Any, writes: tuple[Write, ...]) -> None:
    quote = connection.ops.quote_name
    parts: list[str] = []
    selects: list[str] = []
    params: list[Any] = []
    for index, write in enumerate(writes):
        sql, write_params = write._compile()
        if write.obj is not None:
            key = f"{quote(write.model._meta.pk.column)}::text"
        else:
            key = "NULL::text"
        parts.append(f"w{index} AS ({sql} RETURNING {key} AS key)")
        selects.append(f"SELECT {index}, key FROM w{index}")
        params.extend(write_params)
    statement = f"WITH {', '.join(parts)} {' UNION ALL '.join(selects)}"
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        returned = cursor.fetchall()
    counts = [0] * len(writes)
    for index, key in returned:
        counts[index] += 1
        write = writes[index]
        if write.obj is not None:
            pk = write.model._meta.pk
            setattr(write.obj, pk.attname, pk.to_python(key))
    for write, count in zip(writes, counts, strict=True):
        write.rows = count
        if write.obj is not None and count:
            write.obj._state.adding = False
            write.obj._state.db = write.using
            post_save.send(
                sender=write.model,
                instance=write.obj,
                created=True,
                update_fields=None,
                raw=False,
                using=write.using,
            )
