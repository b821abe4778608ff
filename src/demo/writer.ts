/**
 * A simulated site application, run as its own process by `dualdb demo`: it
 * writes straight into the SQLite file with plain better-sqlite3 — no dualdb
 * code at all, the way the Python EPI app does — and the capture triggers see
 * every write. Cameras insert detections (and alerts for missing PPE), sensors
 * insert readings and update their sensor's last value.
 *
 *   node writer.js <sqlite-path> <interval-ms>
 *
 * It stops on SIGTERM/SIGINT, and by itself when its parent goes away (the IPC
 * channel closes), so a demo can never leave writers behind.
 */
import Database from 'better-sqlite3';

const [file, intervalArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: writer <sqlite-path> [interval-ms]\n');
  process.exit(2);
}
const intervalMs = Math.max(20, Number(intervalArg ?? 400));

const db = new Database(file, { fileMustExist: true });
db.pragma('busy_timeout = 10000');
db.pragma('foreign_keys = ON');

const CAMERAS = ['cam-gate-1', 'cam-gate-2', 'cam-welding', 'cam-loading-dock'];
const ZONES = ['gate', 'welding', 'assembly', 'loading'];
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)] as T;
const now = () => new Date().toISOString().replace('T', ' ').replace('Z', '');

const workerIds = db.prepare('SELECT id FROM workers WHERE is_active = 1');
const sensorRows = db.prepare('SELECT id, unit, min_threshold, max_threshold FROM iot_sensors WHERE is_active = 1');
const insertDetection = db.prepare(
  `INSERT INTO detections (camera_id, timestamp, frame_number, total_persons, has_helmet, has_vest, has_gloves,
     is_compliant, missing_ppe, confidence, zone, processing_time_ms, worker_id)
   VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
);
const insertAlert = db.prepare(
  `INSERT INTO alerts (alert_type, severity, status, title, message, camera_id, zone, detection_id, worker_id)
   VALUES ('ppe_violation', ?, 'pending', ?, ?, ?, ?, ?, ?)`,
);
const insertReading = db.prepare(
  'INSERT INTO iot_data_logs (sensor_id, timestamp, value, unit, quality, is_anomaly) VALUES (?, ?, ?, ?, ?, ?)',
);
const touchSensor = db.prepare('UPDATE iot_sensors SET last_value = ?, last_seen_at = ?, updated_at = ? WHERE id = ?');

let frame = 0;
let written = 0;

const camera = db.transaction(() => {
  const workers = workerIds.all() as { id: number | bigint }[];
  const helmet = Math.random() > 0.2;
  const vest = Math.random() > 0.15;
  const gloves = Math.random() > 0.5;
  const compliant = helmet && vest;
  const missing = [helmet ? null : 'helmet', vest ? null : 'vest'].filter(Boolean).join(',') || null;
  const cam = pick(CAMERAS);
  const zone = pick(ZONES);
  const worker = workers.length ? pick(workers).id : null;
  const d = insertDetection.run(
    cam,
    now(),
    ++frame,
    helmet ? 1 : 0,
    vest ? 1 : 0,
    gloves ? 1 : 0,
    compliant ? 1 : 0,
    missing,
    Math.round((0.6 + Math.random() * 0.4) * 1000) / 1000,
    zone,
    Math.round(Math.random() * 400) / 10,
    worker,
  );
  written++;
  if (!compliant) {
    insertAlert.run(
      missing?.includes('helmet') ? 'high' : 'medium',
      `Missing PPE: ${missing}`,
      `Camera ${cam} saw a worker without ${missing} in zone ${zone}`,
      cam,
      zone,
      d.lastInsertRowid,
      worker,
    );
    written++;
  }
});

const sensor = db.transaction(() => {
  const sensors = sensorRows.all() as { id: number | bigint; unit: string | null; max_threshold: number | null }[];
  if (sensors.length === 0) return;
  const s = pick(sensors);
  const max = s.max_threshold ?? 100;
  const value = Math.round(max * (0.4 + Math.random() * 0.7) * 100) / 100;
  const at = now();
  insertReading.run(s.id, at, value, s.unit, 'good', value > max ? 1 : 0);
  touchSensor.run(value, at, at, s.id);
  written += 2;
});

let tick = 0;
const timer = setInterval(() => {
  try {
    tick++;
    if (tick % 2 === 0) camera();
    else sensor();
    if (process.send && tick % 5 === 0) process.send({ written });
  } catch (e) {
    // A locked file or a constraint: say it and go on, as an application would.
    process.stderr.write(`writer: ${(e as Error).message}\n`);
  }
}, intervalMs);

function stop(): void {
  clearInterval(timer);
  try {
    if (process.send && process.connected) process.send({ written, done: true });
  } catch {
    // parent gone
  }
  db.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
