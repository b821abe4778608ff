"""
The EPI application's write pattern, for dualdb's tests: a Flask-like process where every request
opens an SQLAlchemy ORM session, does a small transaction and closes it. Run as

  epi_writer.py create --db FILE               create the tables (db.create_all())
  epi_writer.py seed   --db FILE               create, then a few sensors, training results and workers
  epi_writer.py write  --db FILE --seconds S --seed N
                                                requests for S seconds; prints the ledger (JSON) of
                                                every acknowledged (committed) write on stdout
  epi_writer.py verify --db FILE --expect F    loads every expected row back through the ORM;
                                                prints {"checked": n, "problems": [...]}

Ledger entries: {"op": "insert"|"update"|"delete", "table", "ref", "values": {col: value},
"parents": {col: [table, ref]}}; values are JSON with {"dt"|"d"|"t": iso} for DateTime/Date/Time
and {"b": hex} for bytes, so the test can fold them into the rows it expects.
"""
import argparse
import datetime as dt
import json
import random
import sys
import time

from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

from epi_models import MODELS, Alert, Attendance, Base, Detection, IoTDataLog, IoTSensor, Notification, \
    TrainingResult, Worker


def engine_for(path):
    engine = create_engine(f'sqlite:///{path}', connect_args={'timeout': 30})

    @event.listens_for(engine, 'connect')
    def _busy(conn, _record):
        conn.execute('PRAGMA busy_timeout = 30000')

    return engine


def enc(v):
    if isinstance(v, dt.datetime):
        return {'dt': v.isoformat(sep=' ')}
    if isinstance(v, dt.date):
        return {'d': v.isoformat()}
    if isinstance(v, dt.time):
        return {'t': v.isoformat()}
    if isinstance(v, (bytes, bytearray)):
        return {'b': bytes(v).hex()}
    return v


def dec(v):
    if isinstance(v, dict):
        if 'dt' in v:
            return dt.datetime.fromisoformat(v['dt'])
        if 'd' in v:
            return dt.date.fromisoformat(v['d'])
        if 't' in v:
            return dt.time.fromisoformat(v['t'])
        if 'b' in v:
            return bytes.fromhex(v['b'])
    return v


class Ledger:
    def __init__(self):
        self.entries = []

    def request(self, engine):
        """One Flask request: a session opened and closed, one transaction; entries count once committed."""
        return _Request(self, engine)


class _Request:
    def __init__(self, ledger, engine):
        self.ledger, self.engine, self.pending = ledger, engine, []

    def __enter__(self):
        self.session = Session(self.engine)
        return self

    def record(self, op, obj, values=None, parents=None):
        self.pending.append((op, obj, values or {}, parents or {}))

    def __exit__(self, kind, exc, tb):
        try:
            if kind is None:
                self.session.commit()
                for op, obj, values, parents in self.pending:
                    self.ledger.entries.append({
                        'op': op, 'table': obj.__tablename__, 'ref': obj.ref,
                        'values': {k: enc(v) for k, v in values.items()},
                        'parents': {k: [p.__tablename__, p.ref] if p is not None else None for k, p in parents.items()},
                    })
            else:
                self.session.rollback()
        finally:
            self.session.close()
        return False


def now():
    return dt.datetime.utcnow()


def eighths(rng):
    """Floats a binary double holds exactly, whatever the column's width on the hub."""
    return rng.randrange(0, 800) / 8


def insert(req, model, parents=None, **values):
    obj = model(**values)
    for col, parent in (parents or {}).items():
        setattr(obj, col, parent.id)  # parents are flushed: their ids are known
    req.session.add(obj)
    req.session.flush()
    req.record('insert', obj, values, parents)
    return obj


def seed(engine, ledger):
    with ledger.request(engine) as r:
        for i in range(1, 4):
            insert(r, IoTSensor, ref=f'app-s-{i}', sensor_name=f'gate {i}', status='active',
                   last_data=json.dumps({'temp': 20 + i}), last_update=now())
            insert(r, TrainingResult, ref=f'app-tr-{i}', timestamp=now(), model_name=f'yolov5s-{i}',
                   learning_rate=0.125 * i, epochs=50 * i, class_metrics=json.dumps({'helmet': 0.5}), completed=True)
        for i in range(1, 4):
            w = insert(r, Worker, ref=f'app-w-seed-{i}', name=f'Seed {i}', department='site', is_active=True,
                       hired_on=dt.date(2025, 1, i), photo=bytes([i, 0, 255]), created_at=now(), updated_at=now())
            insert(r, Attendance, parents={'worker_id': w}, ref=f'app-at-seed-{i}', date=dt.date(2026, 1, i),
                   check_in=dt.time(7, 30, i), first_detection=now(), compliance_score=0.5)


def write(engine, ledger, seconds, rng, tag):
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        ref = f'app-{tag}-{n}'
        kind = rng.choice(['worker', 'worker', 'detection', 'detection', 'update_worker', 'resolve', 'iot', 'delete',
                           'delete_log'])
        with ledger.request(engine) as r:
            s = r.session
            if kind == 'worker':
                w = insert(r, Worker, ref=f'{ref}-w', name=f'Worker {n} 🦺', department=rng.choice(['north', 'south']),
                           is_active=rng.random() < 0.8, hired_on=dt.date(2025, 6, 1 + n % 28),
                           photo=rng.randbytes(16), created_at=now(), updated_at=now())
                insert(r, Attendance, parents={'worker_id': w}, ref=f'{ref}-at', date=dt.date.today(),
                       check_in=dt.time(8, n % 60, 0, 250000), first_detection=now(), compliance_score=eighths(rng))
            elif kind == 'detection':
                sensor = s.query(IoTSensor).filter_by(ref=f'app-s-{rng.randint(1, 3)}').one()
                trained = s.query(TrainingResult).filter_by(ref=f'app-tr-{rng.randint(1, 3)}').one()
                d = insert(r, Detection, parents={'sensor_id': sensor, 'training_result_id': trained}, ref=f'{ref}-d',
                           timestamp=now(), source='camera', compliance_rate=eighths(rng), ensemble_mode=rng.random() < 0.5,
                           raw_data=json.dumps({'boxes': [[1, 2, 3, 4]], 'n': n}), frame=rng.randbytes(32))
                for k in range(rng.randint(1, 2)):
                    a = insert(r, Alert, parents={'detection_id': d}, ref=f'{ref}-a{k}', timestamp=now(),
                               message=f'no helmet at gate ({n}/{k})', severity=rng.choice(['low', 'high']),
                               resolved=False, data=json.dumps({'k': k}))
                    if k == 0:
                        insert(r, Notification, parents={'alert_id': a}, ref=f'{ref}-n', recipient='chef@site',
                               sent_at=now(), is_read=False, payload=json.dumps({'alert': a.ref}))
            elif kind == 'update_worker':
                w = s.query(Worker).filter(Worker.ref.like('app-%')).order_by(Worker.id.desc()).limit(5).all()
                if w:
                    w = rng.choice(w)
                    values = {'department': f'moved {n}', 'is_active': not w.is_active, 'updated_at': now()}
                    for k, v in values.items():
                        setattr(w, k, v)
                    r.record('update', w, values)
            elif kind == 'resolve':
                a = s.query(Alert).filter(Alert.ref.like('app-%'), Alert.resolved.is_(False)).first()
                if a:
                    values = {'resolved': True, 'resolved_at': now()}
                    for k, v in values.items():
                        setattr(a, k, v)
                    r.record('update', a, values)
            elif kind == 'iot':
                sensor = s.query(IoTSensor).filter_by(ref=f'app-s-{rng.randint(1, 3)}').one()
                for k in range(3):
                    insert(r, IoTDataLog, parents={'sensor_id': sensor}, ref=f'{ref}-l{k}', timestamp=now(),
                           motion_detected=rng.random() < 0.5, compliance_level=eighths(rng),
                           raw_data=json.dumps({'pir': k}))
            elif kind == 'delete':
                d = s.query(Detection).filter(Detection.ref.like('app-%')).order_by(Detection.id).first()
                if d:
                    for a in d.alerts:
                        for note in s.query(Notification).filter_by(alert_id=a.id).all():
                            note.alert_id = None
                            r.record('update', note, {}, {'alert_id': None})
                        r.record('delete', a)
                    r.record('delete', d)
                    s.delete(d)
            elif kind == 'delete_log':
                log = s.query(IoTDataLog).filter(IoTDataLog.ref.like('app-%')).order_by(IoTDataLog.id).first()
                if log:
                    r.record('delete', log)
                    s.delete(log)
        time.sleep(rng.uniform(0.005, 0.03))
    return n


def verify(engine, expect):
    problems = []
    checked = 0
    with Session(engine) as s:
        for row in expect['live']:
            model = MODELS[row['table']]
            found = s.query(model).filter_by(ref=row['ref']).all()
            if len(found) != 1:
                problems.append(f"{row['table']} {row['ref']}: {len(found)} rows in SQLite")
                continue
            obj = found[0]
            for col, raw in row['values'].items():
                want = dec(raw)
                got = getattr(obj, col)
                if got != want:
                    problems.append(f"{row['table']} {row['ref']}.{col}: {got!r} through the ORM, {want!r} written")
                elif isinstance(want, (dt.datetime, dt.time)):
                    # The application's own query: SQLAlchemy binds its text form of the value.
                    hits = s.query(model).filter(model.ref == row['ref'], getattr(model, col) == want).count()
                    if hits != 1:
                        problems.append(f"{row['table']} {row['ref']}: WHERE {col} = {want} finds {hits} rows")
            for col, parent in row['parents'].items():
                got = getattr(obj, col)
                if parent is None:
                    if got is not None:
                        problems.append(f"{row['table']} {row['ref']}.{col}: {got}, expected NULL")
                    continue
                p = s.query(MODELS[parent[0]]).filter_by(ref=parent[1]).one_or_none()
                if p is None or p.id != got:
                    problems.append(f"{row['table']} {row['ref']}.{col} = {got}: not the id of {parent[1]}")
            checked += 1
        for row in expect['gone']:
            n = s.query(MODELS[row['table']]).filter_by(ref=row['ref']).count()
            if n:
                problems.append(f"{row['table']} {row['ref']}: deleted, yet {n} rows in SQLite")
    return {'checked': checked, 'problems': problems}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('command', choices=['create', 'seed', 'write', 'verify'])
    p.add_argument('--db', required=True)
    p.add_argument('--seconds', type=float, default=5)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--expect')
    a = p.parse_args()
    engine = engine_for(a.db)
    if a.command == 'create':
        Base.metadata.create_all(engine)
        out = {'created': sorted(MODELS)}
    elif a.command == 'seed':
        Base.metadata.create_all(engine)
        ledger = Ledger()
        seed(engine, ledger)
        out = {'ledger': ledger.entries}
    elif a.command == 'write':
        ledger = Ledger()
        started = time.monotonic()
        n = write(engine, ledger, a.seconds, random.Random(a.seed), f's{a.seed}')
        out = {'requests': n, 'seconds': round(time.monotonic() - started, 2), 'ledger': ledger.entries}
    else:
        with open(a.expect) as f:
            out = verify(engine, json.load(f))
    json.dump(out, sys.stdout)
    engine.dispose()


if __name__ == '__main__':
    main()
