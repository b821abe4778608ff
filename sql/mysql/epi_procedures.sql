-- EPI stored procedures, hub only (SQLite has none). Load after epi_schema.sql:
--   dualdb schema import sql/mysql/epi_procedures.sql
-- Written for the mysql/mariadb client as well: DELIMITER lets the bodies contain `;`.
-- Idempotent: each procedure is dropped and created again (MySQL has no
-- CREATE OR REPLACE PROCEDURE; MariaDB has, but this file runs on both).
-- Needs the CREATE ROUTINE and ALTER ROUTINE privileges on the database.

DELIMITER //

DROP PROCEDURE IF EXISTS cleanup_old_data //

-- Deletes detections, sensor readings, closed alerts and system logs older than
-- p_days_to_keep days (UTC), in batches so that no lock is held for long, and
-- returns how many rows went from each table.
-- With dualdb sync running, these deletes are captured like any other change and
-- reach every node: run it when the sites should forget the same history.
CREATE PROCEDURE cleanup_old_data(IN p_days_to_keep INT)
  MODIFIES SQL DATA
  COMMENT 'Delete EPI history older than p_days_to_keep days'
BEGIN
  DECLARE v_cutoff DATETIME(6);
  DECLARE v_batch INT DEFAULT 5000;
  DECLARE v_rows INT DEFAULT 0;
  DECLARE v_alerts BIGINT DEFAULT 0;
  DECLARE v_detections BIGINT DEFAULT 0;
  DECLARE v_readings BIGINT DEFAULT 0;
  DECLARE v_logs BIGINT DEFAULT 0;

  IF p_days_to_keep IS NULL OR p_days_to_keep < 1 THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'cleanup_old_data: p_days_to_keep must be at least 1';
  END IF;
  SET v_cutoff = UTC_TIMESTAMP(6) - INTERVAL p_days_to_keep DAY;

  -- Closed alerts first; open ones are kept whatever their age.
  alerts_loop: LOOP
    DELETE FROM alerts WHERE created_at < v_cutoff AND status IN ('resolved', 'dismissed') LIMIT v_batch;
    SET v_rows = ROW_COUNT();
    SET v_alerts = v_alerts + v_rows;
    IF v_rows < v_batch THEN LEAVE alerts_loop; END IF;
  END LOOP;

  -- Alerts still open keep their row; their detection_id becomes NULL (ON DELETE SET NULL).
  detections_loop: LOOP
    DELETE FROM detections WHERE `timestamp` < v_cutoff LIMIT v_batch;
    SET v_rows = ROW_COUNT();
    SET v_detections = v_detections + v_rows;
    IF v_rows < v_batch THEN LEAVE detections_loop; END IF;
  END LOOP;

  readings_loop: LOOP
    DELETE FROM iot_data_logs WHERE `timestamp` < v_cutoff LIMIT v_batch;
    SET v_rows = ROW_COUNT();
    SET v_readings = v_readings + v_rows;
    IF v_rows < v_batch THEN LEAVE readings_loop; END IF;
  END LOOP;

  logs_loop: LOOP
    DELETE FROM system_logs WHERE created_at < v_cutoff LIMIT v_batch;
    SET v_rows = ROW_COUNT();
    SET v_logs = v_logs + v_rows;
    IF v_rows < v_batch THEN LEAVE logs_loop; END IF;
  END LOOP;

  SELECT v_cutoff AS cutoff,
         v_detections AS detections_deleted,
         v_readings AS iot_data_logs_deleted,
         v_alerts AS alerts_deleted,
         v_logs AS system_logs_deleted;
END //

DROP PROCEDURE IF EXISTS get_compliance_stats //

-- PPE compliance between p_start (inclusive) and p_end (exclusive), UTC, for one
-- camera or, when p_camera_id is NULL, for all of them. NULL bounds mean "open".
-- Returns one row of totals, then one row per camera.
CREATE PROCEDURE get_compliance_stats(IN p_start DATETIME(6), IN p_end DATETIME(6), IN p_camera_id VARCHAR(64))
  READS SQL DATA
  COMMENT 'PPE compliance totals and per-camera breakdown for a period'
BEGIN
  SELECT COUNT(*) AS total_detections,
         COALESCE(SUM(is_compliant), 0) AS compliant,
         COUNT(*) - COALESCE(SUM(is_compliant), 0) AS violations,
         CASE WHEN COUNT(*) = 0 THEN NULL ELSE ROUND(100.0 * SUM(is_compliant) / COUNT(*), 2) END AS compliance_rate,
         COALESCE(SUM(has_helmet = 0), 0) AS without_helmet,
         COALESCE(SUM(has_vest = 0), 0) AS without_vest,
         COALESCE(SUM(has_gloves = 0), 0) AS without_gloves,
         COALESCE(SUM(has_boots = 0), 0) AS without_boots,
         COALESCE(SUM(has_mask = 0), 0) AS without_mask,
         AVG(confidence) AS avg_confidence
    FROM detections
   WHERE (p_start IS NULL OR `timestamp` >= p_start)
     AND (p_end IS NULL OR `timestamp` < p_end)
     AND (p_camera_id IS NULL OR camera_id = p_camera_id);

  SELECT camera_id,
         COUNT(*) AS total_detections,
         SUM(is_compliant) AS compliant,
         ROUND(100.0 * SUM(is_compliant) / COUNT(*), 2) AS compliance_rate,
         MIN(`timestamp`) AS first_seen,
         MAX(`timestamp`) AS last_seen
    FROM detections
   WHERE (p_start IS NULL OR `timestamp` >= p_start)
     AND (p_end IS NULL OR `timestamp` < p_end)
     AND (p_camera_id IS NULL OR camera_id = p_camera_id)
   GROUP BY camera_id
   ORDER BY camera_id;
END //

DELIMITER ;
