-- EPI (personal protective equipment) detection system: local schema for SQLite.
-- Twin of sql/mysql/epi_schema.sql: same tables, columns, keys and views, so that
-- `dualdb schema diff` finds nothing to do and every value round-trips exactly.
-- Idempotent: safe to run again (`dualdb schema import sql/sqlite/epi_schema.sql --target sqlite`).
--
-- Type names are chosen for their SQLite affinity and so that they translate back to
-- the hub's types: INTEGER (64-bit) <-> BIGINT/INT, REAL (64-bit) <-> DOUBLE,
-- BOOLEAN (0/1 integers) <-> TINYINT(1), VARCHAR(n)/TEXT <-> VARCHAR(n)/TEXT/LONGTEXT,
-- DATETIME (text 'YYYY-MM-DD hh:mm:ss.ffffff') <-> DATETIME(6), DATE <-> DATE.
-- SQLite does not enforce VARCHAR lengths; the hub does (`dualdb schema check` finds
-- values that would not fit). Times are UTC: SQLite's clock is UTC, and the hub's
-- defaults use UTC_TIMESTAMP(6) to match.
--
-- SQLite has no stored procedures: cleanup_old_data and get_compliance_stats exist only
-- on the hub (sql/mysql/epi_procedures.sql). Run cleanup there; its deletes reach the
-- nodes through sync like any other change.
--
-- Foreign keys are enforced only on connections that set PRAGMA foreign_keys = ON
-- (dualdb always does).

CREATE TABLE IF NOT EXISTS training_results (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  model_name VARCHAR(100) NOT NULL,
  model_version VARCHAR(50),
  dataset_name VARCHAR(255),
  epochs INTEGER,
  batch_size INTEGER,
  image_size INTEGER,
  learning_rate REAL,
  precision_score REAL,
  recall_score REAL,
  map50 REAL,
  map50_95 REAL,
  f1_score REAL,
  train_loss REAL,
  val_loss REAL,
  class_metrics TEXT,
  model_path VARCHAR(500),
  status VARCHAR(20) NOT NULL DEFAULT 'completed',
  is_active BOOLEAN NOT NULL DEFAULT 0,
  started_at DATETIME,
  completed_at DATETIME,
  duration_seconds REAL,
  notes TEXT,
  created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  CONSTRAINT chk_training_results_status CHECK (status IN ('running', 'completed', 'failed', 'cancelled'))
);
CREATE INDEX IF NOT EXISTS idx_training_results_model ON training_results (model_name, model_version);
CREATE INDEX IF NOT EXISTS idx_training_results_created ON training_results (created_at);

CREATE TABLE IF NOT EXISTS workers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  employee_code VARCHAR(50) NOT NULL,
  name VARCHAR(200) NOT NULL,
  department VARCHAR(100),
  job_title VARCHAR(100),
  zone VARCHAR(100),
  badge_id VARCHAR(64),
  email VARCHAR(255),
  phone VARCHAR(50),
  required_ppe VARCHAR(255) NOT NULL DEFAULT 'helmet,vest',
  is_active BOOLEAN NOT NULL DEFAULT 1,
  hired_on DATE,
  created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  updated_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS uq_workers_employee_code ON workers (employee_code);
CREATE UNIQUE INDEX IF NOT EXISTS uq_workers_badge_id ON workers (badge_id);
CREATE INDEX IF NOT EXISTS idx_workers_department ON workers (department);
CREATE INDEX IF NOT EXISTS idx_workers_zone ON workers (zone);

CREATE TABLE IF NOT EXISTS iot_sensors (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  sensor_code VARCHAR(64) NOT NULL,
  name VARCHAR(100) NOT NULL,
  sensor_type VARCHAR(50) NOT NULL,
  location VARCHAR(255),
  zone VARCHAR(100),
  unit VARCHAR(20),
  min_threshold REAL,
  max_threshold REAL,
  is_active BOOLEAN NOT NULL DEFAULT 1,
  last_value REAL,
  last_seen_at DATETIME,
  created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  updated_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS uq_iot_sensors_code ON iot_sensors (sensor_code);
CREATE INDEX IF NOT EXISTS idx_iot_sensors_type ON iot_sensors (sensor_type);
CREATE INDEX IF NOT EXISTS idx_iot_sensors_zone ON iot_sensors (zone);

CREATE TABLE IF NOT EXISTS detections (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  camera_id VARCHAR(64) NOT NULL,
  timestamp DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  frame_number INTEGER,
  class_name VARCHAR(50) NOT NULL DEFAULT 'person',
  total_persons INTEGER NOT NULL DEFAULT 1,
  has_helmet BOOLEAN NOT NULL DEFAULT 0,
  has_vest BOOLEAN NOT NULL DEFAULT 0,
  has_gloves BOOLEAN NOT NULL DEFAULT 0,
  has_boots BOOLEAN NOT NULL DEFAULT 0,
  has_mask BOOLEAN NOT NULL DEFAULT 0,
  is_compliant BOOLEAN NOT NULL DEFAULT 0,
  missing_ppe VARCHAR(255),
  confidence REAL NOT NULL DEFAULT 0,
  bbox_x REAL,
  bbox_y REAL,
  bbox_width REAL,
  bbox_height REAL,
  image_path VARCHAR(500),
  zone VARCHAR(100),
  processing_time_ms REAL,
  worker_id INTEGER,
  training_result_id INTEGER,
  created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  CONSTRAINT fk_detections_worker FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE SET NULL ON UPDATE CASCADE,
  CONSTRAINT fk_detections_training FOREIGN KEY (training_result_id) REFERENCES training_results (id)
    ON DELETE SET NULL ON UPDATE CASCADE,
  CONSTRAINT chk_detections_confidence CHECK (confidence >= 0 AND confidence <= 1)
);
CREATE INDEX IF NOT EXISTS idx_detections_timestamp ON detections (timestamp);
CREATE INDEX IF NOT EXISTS idx_detections_camera_time ON detections (camera_id, timestamp);
CREATE INDEX IF NOT EXISTS idx_detections_compliance ON detections (is_compliant, timestamp);
CREATE INDEX IF NOT EXISTS idx_detections_worker ON detections (worker_id);
CREATE INDEX IF NOT EXISTS idx_detections_training ON detections (training_result_id);

CREATE TABLE IF NOT EXISTS iot_data_logs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  sensor_id INTEGER NOT NULL,
  timestamp DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  value REAL NOT NULL,
  unit VARCHAR(20),
  quality VARCHAR(20) NOT NULL DEFAULT 'good',
  is_anomaly BOOLEAN NOT NULL DEFAULT 0,
  raw_payload TEXT,
  created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  CONSTRAINT fk_iot_data_logs_sensor FOREIGN KEY (sensor_id) REFERENCES iot_sensors (id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_iot_data_logs_sensor_time ON iot_data_logs (sensor_id, timestamp);
CREATE INDEX IF NOT EXISTS idx_iot_data_logs_timestamp ON iot_data_logs (timestamp);

CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_type VARCHAR(50) NOT NULL,
  severity VARCHAR(20) NOT NULL DEFAULT 'medium',
  status VARCHAR(20) NOT NULL DEFAULT 'pending',
  title VARCHAR(255) NOT NULL,
  message TEXT,
  camera_id VARCHAR(64),
  zone VARCHAR(100),
  detection_id INTEGER,
  sensor_id INTEGER,
  worker_id INTEGER,
  acknowledged BOOLEAN NOT NULL DEFAULT 0,
  acknowledged_by VARCHAR(100),
  acknowledged_at DATETIME,
  resolved_at DATETIME,
  created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  updated_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  CONSTRAINT fk_alerts_detection FOREIGN KEY (detection_id) REFERENCES detections (id) ON DELETE SET NULL ON UPDATE CASCADE,
  CONSTRAINT fk_alerts_sensor FOREIGN KEY (sensor_id) REFERENCES iot_sensors (id) ON DELETE SET NULL ON UPDATE CASCADE,
  CONSTRAINT fk_alerts_worker FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE SET NULL ON UPDATE CASCADE,
  CONSTRAINT chk_alerts_severity CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  CONSTRAINT chk_alerts_status CHECK (status IN ('pending', 'acknowledged', 'resolved', 'dismissed'))
);
CREATE INDEX IF NOT EXISTS idx_alerts_status_severity ON alerts (status, severity);
CREATE INDEX IF NOT EXISTS idx_alerts_created ON alerts (created_at);
CREATE INDEX IF NOT EXISTS idx_alerts_detection ON alerts (detection_id);
CREATE INDEX IF NOT EXISTS idx_alerts_sensor ON alerts (sensor_id);
CREATE INDEX IF NOT EXISTS idx_alerts_worker ON alerts (worker_id);

CREATE TABLE IF NOT EXISTS system_logs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  level VARCHAR(10) NOT NULL DEFAULT 'INFO',
  source VARCHAR(100),
  message TEXT NOT NULL,
  details TEXT,
  camera_id VARCHAR(64),
  created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  CONSTRAINT chk_system_logs_level CHECK (level IN ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'))
);
CREATE INDEX IF NOT EXISTS idx_system_logs_level_created ON system_logs (level, created_at);
CREATE INDEX IF NOT EXISTS idx_system_logs_created ON system_logs (created_at);

-- Views (SQLite has no CREATE OR REPLACE VIEW: drop, then create).
-- "Recent" means the last 7 days of UTC time, as on the hub.

DROP VIEW IF EXISTS recent_detections_with_training;
CREATE VIEW recent_detections_with_training AS
SELECT
  d.id,
  d.camera_id,
  d.timestamp,
  d.class_name,
  d.has_helmet,
  d.has_vest,
  d.has_gloves,
  d.has_boots,
  d.has_mask,
  d.is_compliant,
  d.missing_ppe,
  d.confidence,
  d.image_path,
  d.zone,
  d.worker_id,
  w.name AS worker_name,
  d.training_result_id,
  t.model_name,
  t.model_version,
  t.map50 AS model_map50
FROM detections d
LEFT JOIN training_results t ON t.id = d.training_result_id
LEFT JOIN workers w ON w.id = d.worker_id
WHERE d.timestamp >= strftime('%Y-%m-%d %H:%M:%f', 'now', '-7 days');

DROP VIEW IF EXISTS pending_alerts;
CREATE VIEW pending_alerts AS
SELECT
  a.id,
  a.alert_type,
  a.severity,
  CASE a.severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END AS severity_rank,
  a.title,
  a.message,
  a.camera_id,
  a.zone,
  a.detection_id,
  a.sensor_id,
  s.name AS sensor_name,
  a.worker_id,
  w.name AS worker_name,
  a.created_at
FROM alerts a
LEFT JOIN iot_sensors s ON s.id = a.sensor_id
LEFT JOIN workers w ON w.id = a.worker_id
WHERE a.status = 'pending' AND a.acknowledged = 0;

DROP VIEW IF EXISTS worker_stats;
CREATE VIEW worker_stats AS
SELECT
  w.id AS worker_id,
  w.employee_code,
  w.name,
  w.department,
  COUNT(d.id) AS total_detections,
  COALESCE(SUM(d.is_compliant), 0) AS compliant_detections,
  COUNT(d.id) - COALESCE(SUM(d.is_compliant), 0) AS violations,
  CASE WHEN COUNT(d.id) = 0 THEN NULL ELSE ROUND(100.0 * SUM(d.is_compliant) / COUNT(d.id), 2) END AS compliance_rate,
  MAX(d.timestamp) AS last_detection_at
FROM workers w
LEFT JOIN detections d ON d.worker_id = w.id
GROUP BY w.id, w.employee_code, w.name, w.department;
