-- EPI (personal protective equipment) detection system: hub schema for MySQL 8 / MariaDB 10.6+.
-- Twin of sql/sqlite/epi_schema.sql: same tables, columns, keys and views.
-- Idempotent: safe to run again (`dualdb schema import sql/mysql/epi_schema.sql`).
-- The database itself is not created here: it is DB_NAME from the configuration.
--
-- Types are chosen so that every value round-trips exactly with SQLite:
--   * ids and counters: BIGINT (SQLite INTEGER is 64-bit: an INT would refuse what SQLite holds);
--   * text keys (codes): COLLATE utf8mb4_bin, distinct by case as in SQLite;
--   * measures: DOUBLE, never FLOAT (FLOAT is 32-bit; SQLite REAL is 64-bit);
--   * times: DATETIME(6), never TIMESTAMP (converted to and from the session time zone)
--     nor DATETIME(0) (drops fractions). All times are UTC, like SQLite's clock,
--     hence DEFAULT (UTC_TIMESTAMP(6)) rather than CURRENT_TIMESTAMP (session time zone);
--   * flags: TINYINT(1) <-> SQLite BOOLEAN (0/1 integers);
--   * text: VARCHAR(n)/TEXT/LONGTEXT in utf8mb4 (emoji and all of Unicode).
-- Tables are created parents first so that every foreign key finds its table.

-- Model training runs (YOLO or similar): which weights produced a detection.
CREATE TABLE IF NOT EXISTS training_results (
  id BIGINT NOT NULL AUTO_INCREMENT,
  model_name VARCHAR(100) NOT NULL,
  model_version VARCHAR(50) NULL,
  dataset_name VARCHAR(255) NULL,
  epochs BIGINT NULL,
  batch_size BIGINT NULL,
  image_size BIGINT NULL,
  learning_rate DOUBLE NULL,
  precision_score DOUBLE NULL,
  recall_score DOUBLE NULL,
  map50 DOUBLE NULL,
  map50_95 DOUBLE NULL,
  f1_score DOUBLE NULL,
  train_loss DOUBLE NULL,
  val_loss DOUBLE NULL,
  -- Per-class metrics as JSON text. LONGTEXT, not JSON: MySQL's JSON type rewrites the
  -- text (key order, spacing), so it would not come back byte for byte.
  class_metrics LONGTEXT NULL,
  model_path VARCHAR(500) NULL,
  status VARCHAR(20) NOT NULL DEFAULT 'completed',
  is_active TINYINT(1) NOT NULL DEFAULT 0,
  started_at DATETIME(6) NULL,
  completed_at DATETIME(6) NULL,
  duration_seconds DOUBLE NULL,
  notes TEXT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
  PRIMARY KEY (id),
  KEY idx_training_results_model (model_name, model_version),
  KEY idx_training_results_created (created_at),
  CONSTRAINT chk_training_results_status CHECK (status IN ('running', 'completed', 'failed', 'cancelled'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS workers (
  id BIGINT NOT NULL AUTO_INCREMENT,
  employee_code VARCHAR(50) COLLATE utf8mb4_bin NOT NULL,
  name VARCHAR(200) NOT NULL,
  department VARCHAR(100) NULL,
  job_title VARCHAR(100) NULL,
  zone VARCHAR(100) NULL,
  badge_id VARCHAR(64) COLLATE utf8mb4_bin NULL,
  email VARCHAR(255) NULL,
  phone VARCHAR(50) NULL,
  -- Comma-separated PPE the worker's role requires, e.g. 'helmet,vest,boots'.
  required_ppe VARCHAR(255) NOT NULL DEFAULT 'helmet,vest',
  is_active TINYINT(1) NOT NULL DEFAULT 1,
  hired_on DATE NULL,
  created_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
  updated_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
  PRIMARY KEY (id),
  UNIQUE KEY uq_workers_employee_code (employee_code),
  UNIQUE KEY uq_workers_badge_id (badge_id),
  KEY idx_workers_department (department),
  KEY idx_workers_zone (zone)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS iot_sensors (
  id BIGINT NOT NULL AUTO_INCREMENT,
  sensor_code VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
  name VARCHAR(100) NOT NULL,
  -- temperature, humidity, gas, noise, dust, vibration, presence…
  sensor_type VARCHAR(50) NOT NULL,
  location VARCHAR(255) NULL,
  zone VARCHAR(100) NULL,
  unit VARCHAR(20) NULL,
  min_threshold DOUBLE NULL,
  max_threshold DOUBLE NULL,
  is_active TINYINT(1) NOT NULL DEFAULT 1,
  last_value DOUBLE NULL,
  last_seen_at DATETIME(6) NULL,
  created_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
  updated_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
  PRIMARY KEY (id),
  UNIQUE KEY uq_iot_sensors_code (sensor_code),
  KEY idx_iot_sensors_type (sensor_type),
  KEY idx_iot_sensors_zone (zone)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per analysed frame (or per person in a frame) from a camera.
CREATE TABLE IF NOT EXISTS detections (
  id BIGINT NOT NULL AUTO_INCREMENT,
  camera_id VARCHAR(64) NOT NULL,
  `timestamp` DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
  frame_number BIGINT NULL,
  -- Detected class (person, helmet, no_helmet…) and the PPE seen on the person.
  class_name VARCHAR(50) NOT NULL DEFAULT 'person',
  total_persons BIGINT NOT NULL DEFAULT 1,
  has_helmet TINYINT(1) NOT NULL DEFAULT 0,
  has_vest TINYINT(1) NOT NULL DEFAULT 0,
  has_gloves TINYINT(1) NOT NULL DEFAULT 0,
  has_boots TINYINT(1) NOT NULL DEFAULT 0,
  has_mask TINYINT(1) NOT NULL DEFAULT 0,
  is_compliant TINYINT(1) NOT NULL DEFAULT 0,
  missing_ppe VARCHAR(255) NULL,
  confidence DOUBLE NOT NULL DEFAULT 0,
  -- Bounding box in pixels (x, y of the top-left corner).
  bbox_x DOUBLE NULL,
  bbox_y DOUBLE NULL,
  bbox_width DOUBLE NULL,
  bbox_height DOUBLE NULL,
  image_path VARCHAR(500) NULL,
  zone VARCHAR(100) NULL,
  processing_time_ms DOUBLE NULL,
  worker_id BIGINT NULL,
  training_result_id BIGINT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
  PRIMARY KEY (id),
  KEY idx_detections_timestamp (`timestamp`),
  KEY idx_detections_camera_time (camera_id, `timestamp`),
  KEY idx_detections_compliance (is_compliant, `timestamp`),
  KEY idx_detections_worker (worker_id),
  KEY idx_detections_training (training_result_id),
  CONSTRAINT fk_detections_worker FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE SET NULL ON UPDATE CASCADE,
  CONSTRAINT fk_detections_training FOREIGN KEY (training_result_id) REFERENCES training_results (id)
    ON DELETE SET NULL ON UPDATE CASCADE,
  CONSTRAINT chk_detections_confidence CHECK (confidence >= 0 AND confidence <= 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS iot_data_logs (
  id BIGINT NOT NULL AUTO_INCREMENT,
  sensor_id BIGINT NOT NULL,
  `timestamp` DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
  `value` DOUBLE NOT NULL,
  unit VARCHAR(20) NULL,
  quality VARCHAR(20) NOT NULL DEFAULT 'good',
  is_anomaly TINYINT(1) NOT NULL DEFAULT 0,
  -- The message as the sensor sent it (JSON text), for audits.
  raw_payload LONGTEXT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
  PRIMARY KEY (id),
  KEY idx_iot_data_logs_sensor_time (sensor_id, `timestamp`),
  KEY idx_iot_data_logs_timestamp (`timestamp`),
  CONSTRAINT fk_iot_data_logs_sensor FOREIGN KEY (sensor_id) REFERENCES iot_sensors (id) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS alerts (
  id BIGINT NOT NULL AUTO_INCREMENT,
  -- ppe_violation, sensor_threshold, sensor_offline, system…
  alert_type VARCHAR(50) NOT NULL,
  severity VARCHAR(20) NOT NULL DEFAULT 'medium',
  status VARCHAR(20) NOT NULL DEFAULT 'pending',
  title VARCHAR(255) NOT NULL,
  message TEXT NULL,
  camera_id VARCHAR(64) NULL,
  zone VARCHAR(100) NULL,
  detection_id BIGINT NULL,
  sensor_id BIGINT NULL,
  worker_id BIGINT NULL,
  acknowledged TINYINT(1) NOT NULL DEFAULT 0,
  acknowledged_by VARCHAR(100) NULL,
  acknowledged_at DATETIME(6) NULL,
  resolved_at DATETIME(6) NULL,
  created_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
  updated_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
  PRIMARY KEY (id),
  KEY idx_alerts_status_severity (status, severity),
  KEY idx_alerts_created (created_at),
  KEY idx_alerts_detection (detection_id),
  KEY idx_alerts_sensor (sensor_id),
  KEY idx_alerts_worker (worker_id),
  CONSTRAINT fk_alerts_detection FOREIGN KEY (detection_id) REFERENCES detections (id) ON DELETE SET NULL ON UPDATE CASCADE,
  CONSTRAINT fk_alerts_sensor FOREIGN KEY (sensor_id) REFERENCES iot_sensors (id) ON DELETE SET NULL ON UPDATE CASCADE,
  CONSTRAINT fk_alerts_worker FOREIGN KEY (worker_id) REFERENCES workers (id) ON DELETE SET NULL ON UPDATE CASCADE,
  CONSTRAINT chk_alerts_severity CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  CONSTRAINT chk_alerts_status CHECK (status IN ('pending', 'acknowledged', 'resolved', 'dismissed'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS system_logs (
  id BIGINT NOT NULL AUTO_INCREMENT,
  level VARCHAR(10) NOT NULL DEFAULT 'INFO',
  source VARCHAR(100) NULL,
  message TEXT NOT NULL,
  -- Structured context as JSON text (see class_metrics for why not JSON).
  details LONGTEXT NULL,
  camera_id VARCHAR(64) NULL,
  created_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
  PRIMARY KEY (id),
  KEY idx_system_logs_level_created (level, created_at),
  KEY idx_system_logs_created (created_at),
  CONSTRAINT chk_system_logs_level CHECK (level IN ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Views. "Recent" means the last 7 days of UTC time (times are stored in UTC).

CREATE OR REPLACE VIEW recent_detections_with_training AS
SELECT
  d.id,
  d.camera_id,
  d.`timestamp`,
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
WHERE d.`timestamp` >= UTC_TIMESTAMP(6) - INTERVAL 7 DAY;

CREATE OR REPLACE VIEW pending_alerts AS
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

CREATE OR REPLACE VIEW worker_stats AS
SELECT
  w.id AS worker_id,
  w.employee_code,
  w.name,
  w.department,
  COUNT(d.id) AS total_detections,
  COALESCE(SUM(d.is_compliant), 0) AS compliant_detections,
  COUNT(d.id) - COALESCE(SUM(d.is_compliant), 0) AS violations,
  CASE WHEN COUNT(d.id) = 0 THEN NULL ELSE ROUND(100.0 * SUM(d.is_compliant) / COUNT(d.id), 2) END AS compliance_rate,
  MAX(d.`timestamp`) AS last_detection_at
FROM workers w
LEFT JOIN detections d ON d.worker_id = w.id
GROUP BY w.id, w.employee_code, w.name, w.department;
