"""
Flask-like requests that read a row by id and then update it by id, each request one SQLite
transaction through the README's SQLAlchemy recipe (section "Key collisions"): pysqlite's own
BEGIN turned off (isolation_level None), a busy timeout, and BEGIN emitted on the engine's
"begin" event. Run as

  read_then_update.py create --db FILE --rows N         a `counters` table with N rows (ids 1..N)
  read_then_update.py run --db FILE --seconds S --seed K --first A --last B --begin immediate|deferred
                                                        requests on ids A..B for S seconds; prints
                                                        {"requests", "locked", "errors": [first few]}

--begin deferred is the recipe as the README used to give it (a plain BEGIN): a request that read
under a snapshot and then writes while another connection (the syncer, another request) wrote
meanwhile gets SQLITE_BUSY at once, which busy_timeout does not retry. --begin immediate takes the
write lock at BEGIN, where busy_timeout waits for it.
"""
import argparse
import json
import random
import sqlite3
import time

from sqlalchemy import Integer, String, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Counter(Base):
    __tablename__ = 'counters'
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(40))
    n: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(String(80), default='')


def engine_for(path, begin):
    """The README's recipe, word for word apart from the BEGIN variant under test."""
    engine = create_engine(f'sqlite:///{path}')

    @event.listens_for(engine, 'connect')
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # pysqlite's own BEGIN (at the first DML only) off
        dbapi_connection.execute('PRAGMA busy_timeout = 30000')

    @event.listens_for(engine, 'begin')
    def _begin(conn):
        conn.exec_driver_sql('BEGIN IMMEDIATE' if begin == 'immediate' else 'BEGIN')

    return engine


def create(args):
    db = sqlite3.connect(args.db)
    db.execute('PRAGMA journal_mode = WAL')
    db.close()
    engine = create_engine(f'sqlite:///{args.db}')
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add_all([Counter(id=i, ref=f'c-{i}', n=0, note='') for i in range(1, args.rows + 1)])
        s.commit()
    print(json.dumps({'rows': args.rows}))


def run(args):
    rnd = random.Random(args.seed)
    engine = engine_for(args.db, args.begin)
    requests = locked = 0
    errors = []
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        requests += 1
        try:
            with Session(engine) as session:
                row = session.get(Counter, rnd.randint(args.first, args.last))  # the read ...
                time.sleep(rnd.random() * 0.002)  # ... the request's own work between read and write
                row.n = row.n + 1  # ... then the write by the id it read
                row.note = f'req {args.seed}-{requests}'
                session.commit()
        except OperationalError as e:
            if 'database is locked' in str(e):
                locked += 1
            if len(errors) < 5:
                errors.append(str(e).split('\n')[0])
    print(json.dumps({'requests': requests, 'locked': locked, 'errors': errors}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest='cmd', required=True)
    c = sub.add_parser('create')
    c.add_argument('--db', required=True)
    c.add_argument('--rows', type=int, default=50)
    r = sub.add_parser('run')
    r.add_argument('--db', required=True)
    r.add_argument('--seconds', type=float, default=5)
    r.add_argument('--seed', type=int, default=1)
    r.add_argument('--first', type=int, default=1)
    r.add_argument('--last', type=int, default=50)
    r.add_argument('--begin', choices=['immediate', 'deferred'], default='immediate')
    args = p.parse_args()
    create(args) if args.cmd == 'create' else run(args)


if __name__ == '__main__':
    main()
