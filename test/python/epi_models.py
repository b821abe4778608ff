"""
Models shaped like the EPI application's (app/database_unified.py of the public EPI-DETECTION-PROJECT):
the same column types — DateTime, Boolean, Float, Date, Time, JSON kept in Text, LargeBinary —
and foreign keys with ON DELETE CASCADE / SET NULL. Written for dualdb's tests, not copied.
Every table has a unique `ref`, so a row can be found whatever id it ends up with.
"""
from sqlalchemy import (Boolean, Column, Date, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text,
                        Time)
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()


class TrainingResult(Base):
    __tablename__ = 'training_results'
    id = Column(Integer, primary_key=True)
    ref = Column(String(40), unique=True, nullable=False)
    timestamp = Column(DateTime, index=True)
    model_name = Column(String(255), nullable=False)
    learning_rate = Column(Float)
    epochs = Column(Integer)
    class_metrics = Column(Text)  # JSON
    completed = Column(Boolean, default=False)


class Worker(Base):
    __tablename__ = 'workers'
    id = Column(Integer, primary_key=True)
    ref = Column(String(40), unique=True, nullable=False)
    name = Column(String(100), nullable=False)
    department = Column(String(100))
    is_active = Column(Boolean, default=True)
    hired_on = Column(Date)
    photo = Column(LargeBinary)
    created_at = Column(DateTime)
    updated_at = Column(DateTime)
    attendance = relationship('Attendance', back_populates='worker', cascade='all, delete-orphan')


class IoTSensor(Base):
    __tablename__ = 'iot_sensors'
    id = Column(Integer, primary_key=True)
    ref = Column(String(40), unique=True, nullable=False)
    sensor_name = Column(String(255), nullable=False)
    status = Column(String(20), default='active')
    last_data = Column(Text)  # JSON
    last_update = Column(DateTime)
    logs = relationship('IoTDataLog', back_populates='sensor', cascade='all, delete-orphan')


class IoTDataLog(Base):
    __tablename__ = 'iot_data_logs'
    id = Column(Integer, primary_key=True)
    ref = Column(String(40), unique=True, nullable=False)
    sensor_id = Column(Integer, ForeignKey('iot_sensors.id', ondelete='CASCADE'), nullable=False, index=True)
    timestamp = Column(DateTime, index=True)
    motion_detected = Column(Boolean, default=False)
    compliance_level = Column(Float)
    raw_data = Column(Text)  # JSON
    sensor = relationship('IoTSensor', back_populates='logs')


class Detection(Base):
    __tablename__ = 'detections'
    id = Column(Integer, primary_key=True)
    ref = Column(String(40), unique=True, nullable=False)
    timestamp = Column(DateTime, index=True)
    training_result_id = Column(Integer, ForeignKey('training_results.id', ondelete='SET NULL'))
    sensor_id = Column(Integer, ForeignKey('iot_sensors.id', ondelete='SET NULL'))
    source = Column(String(50), nullable=False)
    compliance_rate = Column(Float, default=0.0)
    ensemble_mode = Column(Boolean, default=False)
    raw_data = Column(Text)  # JSON
    frame = Column(LargeBinary)
    alerts = relationship('Alert', back_populates='detection', cascade='all, delete-orphan')


class Alert(Base):
    __tablename__ = 'alerts'
    id = Column(Integer, primary_key=True)
    ref = Column(String(40), unique=True, nullable=False)
    timestamp = Column(DateTime, index=True)
    detection_id = Column(Integer, ForeignKey('detections.id', ondelete='CASCADE'))
    message = Column(String(500), nullable=False)
    severity = Column(String(20), nullable=False)
    resolved = Column(Boolean, default=False)
    resolved_at = Column(DateTime)
    data = Column(Text)  # JSON
    detection = relationship('Detection', back_populates='alerts')


class Attendance(Base):
    __tablename__ = 'attendance'
    id = Column(Integer, primary_key=True)
    ref = Column(String(40), unique=True, nullable=False)
    worker_id = Column(Integer, ForeignKey('workers.id', ondelete='CASCADE'), nullable=False)
    date = Column(Date, nullable=False)
    check_in = Column(Time)
    first_detection = Column(DateTime)
    compliance_score = Column(Float)
    worker = relationship('Worker', back_populates='attendance')


class Notification(Base):
    __tablename__ = 'notifications'
    id = Column(Integer, primary_key=True)
    ref = Column(String(40), unique=True, nullable=False)
    alert_id = Column(Integer, ForeignKey('alerts.id', ondelete='SET NULL'))
    recipient = Column(String(255), nullable=False)
    sent_at = Column(DateTime)
    is_read = Column(Boolean, default=False)
    payload = Column(Text)  # JSON


MODELS = {m.__tablename__: m for m in (TrainingResult, Worker, IoTSensor, IoTDataLog, Detection, Alert, Attendance,
                                       Notification)}
