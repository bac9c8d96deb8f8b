"""The first load of orders into an empty order table (PostgreSQL): COPY straight in, the
indexes and constraints (and other tables' foreign keys to orders) dropped first and built
again at the end, all in one transaction."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from django.db import connection, transaction

from segcampaign import bulk
from segments.changes import Stamp
from segments.importing.preparing import Prepared
from segments.importing.writing import CUSTOMERS, ORDERS, ChunkWrite, ChunkWriter, insert_defaults, upsert_customers
from segments.models import Customer, Order


class FirstOrderLoad(ChunkWriter):
    """Orders into an empty order table (a shop's first import, usually its whole history).

    Done the way PostgreSQL's manual advises for populating a database ("Populating a
    Database": COPY, indexes and foreign keys created after the data is in): the order
    table's indexes and constraints (and foreign keys pointing at it) are dropped, the
    orders are COPYed straight in, and everything is built again at the end, each index in
    one sorted pass. Maintaining four B-trees and checking the key row by row cost 4 to 5
    times the load itself.

    The whole load is one transaction holding an exclusive lock on the order table
    (nothing reads an empty table) and, through its foreign key, on the customer table.
    DDL is transactional in PostgreSQL: a crash or an error rolls back to the empty table
    with its indexes, and re-running the file is safe. The import's own checks stand in
    for the dropped constraints while loading: ids duplicated in the file are rejected (the
    table was empty, so none is in the database), and every order's customer is found or
    given a key before its order is written. Building the unique index and validating the
    foreign key at the end check both again.

    A dry run loads the same way into temporary copies of the two tables: no lock beyond
    reading them, no index dropped, the counts a real load would report, all rolled back.
    """

    def __init__(self, write: ChunkWrite, *, dry_run: bool, started_at, updates_customers: bool):
        """``write`` writes a chunk the usual way, should another import fill the table first;
        ``started_at`` is when the import started (customers stamped since are not stamped
        again, unless a stats refresh came after: Stamp.touch_since)."""
        super().__init__(write, dry_run=dry_run)
        self.started_at = started_at
        self.updates_customers = updates_customers
        self.bulk = False
        self.customers = _CustomerKeys()
        self.load_stamp: Stamp | None = None
        self.orders_table = ORDERS  # where the orders are COPYed (a dry run: a temporary copy)

    @staticmethod
    def applies() -> bool:
        """Whether an import of orders would start with an empty order table (PostgreSQL only)."""
        if connection.vendor != "postgresql":
            return False
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {ORDERS})")
            return cursor.fetchone()[0]

    @contextmanager
    def session(self):
        with transaction.atomic(), connection.cursor() as cursor:
            # The changes lock before the table locks, as a stats refresh takes it before it
            # reads orders; one stamp for the whole load, which is one transaction.
            self.load_stamp = self.stamp(cursor)
            self.customers.touch_since = self.load_stamp.touch_since(self.started_at)
            if self.dry_run:
                cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {ORDERS})")
                self.bulk = cursor.fetchone()[0]
                if self.bulk:
                    self.orders_table = _scratch_copy(cursor, ORDERS)
                    self.customers.table = _scratch_copy(cursor, CUSTOMERS)
                yield
                if self.bulk:
                    self.customers.create(cursor, self.load_stamp.now)
                transaction.set_rollback(True)
                return
            cursor.execute(f"LOCK TABLE {ORDERS} IN ACCESS EXCLUSIVE MODE")
            cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {ORDERS})")
            # Another import got in first: still correct, as one transaction of upserts.
            self.bulk = cursor.fetchone()[0]
            if self.bulk:
                rebuild = _drop_indexes(cursor, ORDERS)
                # Dropping the foreign key locked the customer table too. When it is empty
                # every customer is new, and its indexes are built after them the same way
                # (not when customers get upserted: ON CONFLICT needs the unique index).
                cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {CUSTOMERS})")
                if cursor.fetchone()[0] and not self.updates_customers:
                    # Only this load writes customers now, at its end: none to look up.
                    self.customers.look_up = False
                    rebuild = _drop_indexes(cursor, CUSTOMERS) + rebuild
            yield
            if self.bulk:
                self.customers.create(cursor, self.load_stamp.now)
                # More memory for the sorts of the index builds, for this transaction only.
                cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
                for statement in rebuild:
                    cursor.execute(statement)
                if self.customers.stale:
                    cursor.execute(
                        f"UPDATE {CUSTOMERS} SET updated_at = %s WHERE id = ANY(%s) AND updated_at < %s",
                        [self.load_stamp.now, self.customers.stale, self.customers.touch_since],
                    )
                # The planner's statistics, which autovacuum would otherwise gather a while later.
                cursor.execute(f"ANALYZE {ORDERS}")

    def write(self, prepared: Prepared) -> tuple[bulk.UpsertResult, int]:
        with connection.cursor() as cursor:
            if not self.bulk:
                return self.write_chunk(cursor, prepared, self.load_stamp)
            now = self.load_stamp.now
            customers_created = self.customers.resolve(cursor, prepared, now)
            frame = prepared.orders
            rows = {column: frame[column] for column in frame.columns if column != "customer_pk"}
            rows["customer_id"] = frame["customer_pk"]
            rows.update(created_at=now, updated_at=now)
            rows.update(insert_defaults(Order, rows))
            loaded = pd.DataFrame(rows, index=frame.index)[_ORDER_COLUMNS]
            bulk.copy_rows(cursor, self.orders_table, _ORDER_COLUMNS, loaded)
            return bulk.UpsertResult(len(loaded), 0, 0), customers_created


_ORDER_COLUMNS = [f.column for f in Order._meta.concrete_fields if not f.primary_key]


class _CustomerKeys:
    """The customers of a first load and their primary keys, which the orders are COPYed
    with: no join in SQL, no foreign key checked row by row.

    A new customer gets its key from the table's sequence at once, and is written at the
    end of the load in one COPY with the others. Nobody else can write customers meanwhile:
    dropping the orders' foreign key locks the customer table against writes until the
    load commits. So reading which customers exist, from any connection, stays true.
    """

    def __init__(self):
        self.touch_since = None  # customers stamped before this get stamped at the end
        self.table = CUSTOMERS  # where new customers are COPYed (a dry run: a temporary copy)
        # Every customer this import has orders for: external ids and primary keys.
        self.known_keys, self.known_pks = pa.array([], type=pa.string()), np.empty(0, dtype=np.int64)
        self.new_keys: list[pa.Array] = []  # customers to create at the end, with their keys
        self.new_pks: list[np.ndarray] = []
        self.stale: list[int] = []  # customers from before the import, whose updated_at needs a bump
        self.sequence: str | None = None
        self.look_up = True  # False: the customer table is empty, nobody else can write it

    def resolve(self, cursor, prepared: Prepared, now) -> int:
        """Add the primary key of each order's customer to the chunk's orders as
        ``customer_pk``. Returns how many customers are new."""
        created = 0
        for frame, update in prepared.customers:
            if update:  # columns the file sets (online retail's country): upserted whether new or not
                created += upsert_customers(cursor, frame, update, now).created
        # Each distinct customer id once: the lookups below probe 60,000 ids, not 100,000.
        encoded = pc.dictionary_encode(pa.array(prepared.orders["customer_id"], type=pa.string(), from_pandas=True))
        distinct = encoded.dictionary
        unknown = distinct.filter(pc.is_null(pc.index_in(distinct, value_set=self.known_keys)))
        if len(unknown) and self.look_up:
            cursor.execute(
                f"SELECT external_id, id, updated_at < %s FROM {CUSTOMERS} WHERE external_id = ANY(%s)",
                [self.touch_since, unknown.to_pylist()],
            )
            found = cursor.fetchall()
            if found:
                keys, pks, stale = zip(*found)
                self._remember(pa.array(keys, type=pa.string()), np.asarray(pks, dtype=np.int64))
                self.stale.extend(pk for pk, old in zip(pks, stale) if old)  # bumped at the end
                unknown = unknown.filter(pc.invert(pc.is_in(unknown, value_set=pa.array(keys, type=pa.string()))))
        if len(unknown):
            if self.sequence is None:
                cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [CUSTOMERS])
                self.sequence = cursor.fetchone()[0]
            # One value at a time, as every insert takes them: safe whoever else draws from it.
            # One row back (text, split by NumPy) rather than a row per key: 20 ms, not 300.
            cursor.execute("SELECT string_agg(nextval(%s::regclass)::text, ',') FROM generate_series(1, %s)",
                           [self.sequence, len(unknown)])
            pks = np.array(cursor.fetchone()[0].split(","), dtype=np.int64)
            self._remember(unknown, pks)
            self.new_keys.append(unknown)
            self.new_pks.append(pks)
            created += len(unknown)
        at = self._positions(distinct)
        if (at < 0).any():  # cannot happen: every customer was found or given a key
            raise RuntimeError(f"customer {distinct.filter(pa.array(at < 0))[0]!r} was neither found nor given a key")
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        prepared.orders = prepared.orders.assign(customer_pk=self.known_pks[at][indices])
        return created

    def create(self, cursor, now) -> None:
        """COPY the new customers in: batched, where INSERT ... ON CONFLICT writes row by row
        (5 us a customer with its five indexes). In key order, which the unique index of
        external ids takes faster than random order."""
        if not self.new_keys:
            return
        keys = pa.concat_arrays(self.new_keys)
        order = pc.sort_indices(keys).to_numpy()
        rows = {"id": np.concatenate(self.new_pks)[order],
                "external_id": keys.take(pa.array(order)).to_pandas().astype("str"),
                "created_at": now, "updated_at": now}
        rows.update(insert_defaults(Customer, rows))
        bulk.copy_rows(cursor, self.table, list(rows), pd.DataFrame(rows))

    def _positions(self, keys: pa.Array) -> np.ndarray:
        """Where each customer id is in ``known_keys``, -1 if not there. Arrow's hash lookup:
        a few milliseconds for 100,000 ids, where a pandas string Index takes 30."""
        return pc.index_in(keys, value_set=self.known_keys).fill_null(-1).to_numpy(zero_copy_only=False)

    def _remember(self, keys: pa.Array, pks: np.ndarray) -> None:
        self.known_keys = pa.concat_arrays([self.known_keys, keys])
        self.known_pks = np.concatenate([self.known_pks, pks])


def _scratch_copy(cursor, table: str) -> str:
    """An empty temporary table shaped like ``table`` (types, NOT NULL, checks, its own ids),
    gone with the transaction: a dry run's COPY checks the values as the real one would."""
    copy = f"_dry_{table}"
    cursor.execute(f"CREATE TEMPORARY TABLE {copy} "
                   f"(LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS) ON COMMIT DROP")
    return copy


def _drop_indexes(cursor, table: str) -> list[str]:
    """Drop a table's indexes and constraints (and foreign keys that point at it); return
    the SQL that builds them again, read from the catalog so that it matches what the
    migrations made."""
    cursor.execute(
        # Own constraints and other tables' foreign keys to it, in the order they can be
        # dropped: foreign keys, then unique, then the primary key they may rest on.
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype FROM pg_constraint "
        "WHERE (conrelid = %s::regclass AND contype IN ('p', 'u', 'f')) "
        "OR (confrelid = %s::regclass AND contype = 'f') "
        "ORDER BY CASE contype WHEN 'f' THEN 0 WHEN 'u' THEN 1 ELSE 2 END, 1, 2",
        [table, table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = %s::regclass "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1",
        [table],
    )
    indexes = cursor.fetchall()
    for owner, name, _definition, _kind in constraints:
        cursor.execute(f'ALTER TABLE {owner} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    add = {kind: [f'ALTER TABLE {owner} ADD CONSTRAINT "{name}" {definition}'
                  for owner, name, definition, k in reversed(constraints) if k == kind] for kind in "puf"}
    # Keys first, then the plain indexes, then the foreign keys (validated against them).
    return [*add["p"], *add["u"], *(definition for _name, definition in indexes), *add["f"]]
