"""
The EPI application of one site, for the operator trial (soak/epi-trial.ts): a Flask-like process
where every request opens an SQLAlchemy ORM session, does one small transaction and closes it.
Ids are left to SQLite (INTEGER PRIMARY KEY): that is what makes key collisions with the hub and
the other sites. Every write the session commits is appended to a journal (one JSON line each,
written after the commit), with its payload: the row's unique `ref`, by which the trial finds the
row whatever key it ends up under.

  epi_trial_writer.py --db FILE --journal FILE --side NAME --seed N [--begin-on-read]

Like the EPI application (Flask-SQLAlchemy defaults), a request's SELECTs run outside any
transaction: pysqlite begins one only at the first INSERT/UPDATE/DELETE. --begin-on-read makes the
whole request one transaction (the README's recipe, BEGIN IMMEDIATE), so a write never lands on a row that a sync
process moved to another id after the request read it.

Runs until SIGTERM (finishes the request in flight), then exits 0.
Journal lines: {"t": epoch s, "side", "op": insert|update|delete, "table", "payload", "key",
"parent": {"col", "payload", "key"} | null, "value": {col: text} (updates)}.
"""
import argparse
import json
import os
import random
import signal
import sys
import time
import uuid
import datetime as dt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'python'))

from sqlalchemy import create_engine, event, func  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from epi_models import Alert, Attendance, Detection, Notification, Worker  # noqa: E402

stopping = False


def on_term(_sig, _frame):
    global stopping
    stopping = True


def engine_for(path, begin_on_read=False):
    engine = create_engine(f'sqlite:///{path}', connect_args={'timeout': 30})

    @event.listens_for(engine, 'connect')
    def _pragmas(conn, _record):
        if begin_on_read:
            conn.isolation_level = None  # pysqlite's own BEGIN (before DML only) off: see below
        conn.execute('PRAGMA busy_timeout = 30000')
        # The application declares ON DELETE CASCADE / SET NULL and means them.
        conn.execute('PRAGMA foreign_keys = ON')

    if begin_on_read:
        # The README's recipe: BEGIN at the session's first statement, so a request's reads and
        # writes are one SQLite transaction (by default pysqlite begins only at the first
        # INSERT/UPDATE/DELETE: a row read by id before may have moved, a re-key, by then).
        # IMMEDIATE, not SQLAlchemy's plain BEGIN: a deferred transaction that read and then
        # writes after the syncer (or another request) wrote is refused at once with "database is
        # locked" (busy_timeout does not retry a stale snapshot's upgrade); IMMEDIATE takes the
        # write lock at BEGIN, where busy_timeout waits.
        @event.listens_for(engine, 'begin')
        def _begin(conn):
            conn.exec_driver_sql('BEGIN IMMEDIATE')

    return engine


def payload(side, kind):
    return f'{side}-{kind}-{uuid.uuid4().hex[:20]}'


def now():
    return dt.datetime.utcnow()


class Request:
    """One Flask request: a session, one transaction; its journal lines are written once committed."""

    def __init__(self, engine, journal, side):
        self.engine, self.journal, self.side, self.lines = engine, journal, side, []

    def __enter__(self):
        self.session = Session(self.engine)
        return self

    def add(self, obj, parent_col=None, parent=None):
        if parent is not None:
            setattr(obj, parent_col, parent.id)
        self.session.add(obj)
        self.session.flush()
        self.lines.append(lambda: {
            'op': 'insert', 'table': obj.__tablename__, 'payload': obj.ref, 'key': obj.id,
            'parent': {'col': parent_col, 'payload': parent.ref, 'key': parent.id} if parent is not None else None,
        })
        return obj

    def update(self, obj, **values):
        for k, v in values.items():
            setattr(obj, k, v)
        key = obj.id
        self.lines.append(lambda: {'op': 'update', 'table': obj.__tablename__, 'payload': obj.ref, 'key': key,
                                   'value': {k: str(v) for k, v in values.items()}})

    def delete(self, obj):
        table, ref, key = obj.__tablename__, obj.ref, obj.id
        self.session.delete(obj)
        self.lines.append(lambda: {'op': 'delete', 'table': table, 'payload': ref, 'key': key})

    def __exit__(self, kind, exc, tb):
        try:
            if kind is None:
                self.session.flush()
                entries = [f() for f in self.lines]
                self.session.commit()
                t = time.time()
                for e in entries:
                    self.journal.write(json.dumps({'t': t, 'side': self.side, **e}) + '\n')
                self.journal.flush()
            else:
                self.session.rollback()
        finally:
            self.session.close()
        return False


def pick(s, model, rng):
    n = s.query(func.count(model.id)).scalar()
    if not n:
        return None
    return s.query(model).order_by(model.id).offset(rng.randrange(n)).limit(1).one_or_none()


def request(engine, journal, side, rng, n, counts):
    kind = rng.choices(['worker', 'attend', 'detection', 'update', 'resolve', 'delete_worker', 'delete_detection',
                        'delete_attendance'], weights=[22, 16, 14, 20, 6, 9, 7, 6])[0]
    with Request(engine, journal, side) as r:
        s = r.session
        if kind == 'worker':
            w = r.add(Worker(ref=payload(side, 'w'), name=f'Worker {n} 🦺', department='new', is_active=True,
                             hired_on=dt.date(2025, 6, 1 + n % 28), created_at=now(), updated_at=now()))
            for _ in range(rng.randint(1, 2)):
                r.add(Attendance(ref=payload(side, 'at'), date=dt.date.today(), check_in=dt.time(8, n % 60),
                                 compliance_score=rng.randrange(0, 800) / 8), 'worker_id', w)
        elif kind == 'attend':
            w = pick(s, Worker, rng)
            if w is not None:
                r.add(Attendance(ref=payload(side, 'at'), date=dt.date.today(), check_in=dt.time(9, n % 60),
                                 compliance_score=0.5), 'worker_id', w)
        elif kind == 'detection':
            d = r.add(Detection(ref=payload(side, 'd'), timestamp=now(), source='camera', compliance_rate=0.25,
                                raw_data=json.dumps({'n': n})))
            for k in range(rng.randint(1, 2)):
                a = r.add(Alert(ref=payload(side, 'a'), timestamp=now(), message=f'no helmet ({n}/{k})',
                                severity=rng.choice(['low', 'high']), resolved=False), 'detection_id', d)
                if k == 0:
                    r.add(Notification(ref=payload(side, 'n'), recipient='chef@site', sent_at=now(), is_read=False),
                          'alert_id', a)
        elif kind == 'update':
            w = pick(s, Worker, rng)
            if w is not None:
                r.update(w, department=f'{side}-{uuid.uuid4().hex[:12]}')
        elif kind == 'resolve':
            a = pick(s, Alert, rng)
            if a is not None:
                r.update(a, message=f'{side}-{uuid.uuid4().hex[:12]}')
        elif kind == 'delete_worker':
            w = pick(s, Worker, rng)
            if w is not None:
                r.delete(w)  # its attendance goes with it (the ORM's cascade, and the foreign key's)
        elif kind == 'delete_detection':
            d = pick(s, Detection, rng)
            if d is not None:
                r.delete(d)  # alerts cascade; their notifications are set to NULL by the foreign key
        elif kind == 'delete_attendance':
            a = pick(s, Attendance, rng)
            if a is not None:
                r.delete(a)
    counts[kind] = counts.get(kind, 0) + 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--db', required=True)
    p.add_argument('--journal', required=True)
    p.add_argument('--side', required=True)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--pause', type=float, default=0.1, help='mean pause between requests, seconds')
    p.add_argument('--begin-on-read', action='store_true', help='reads and writes of a request in one transaction')
    a = p.parse_args()
    signal.signal(signal.SIGTERM, on_term)
    rng = random.Random(a.seed)
    engine = engine_for(a.db, a.begin_on_read)
    counts = {}
    errors = 0
    with open(a.journal, 'a', encoding='utf8') as journal:
        n = 0
        while not stopping:
            n += 1
            try:
                request(engine, journal, a.side, rng, n, counts)
            except Exception as e:  # noqa: BLE001 - a request failing (locked, constraint) is logged, not fatal
                errors += 1
                if errors <= 20:
                    sys.stderr.write(f'request {n} failed: {e}\n')
            time.sleep(rng.uniform(0.2, 1.8) * a.pause)
    engine.dispose()
    json.dump({'requests': n, 'errors': errors, 'kinds': counts}, sys.stdout)


if __name__ == '__main__':
    main()
