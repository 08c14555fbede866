"""The viewer simulator (`qos simulate`): realistic sessions through the real ingest API, with a
ground-truth file of what was generated. The model: `model.py` and docs/simulator.md."""

from qos_infra.simulator.audience import SessionRecord, Simulation, Viewer, generate
from qos_infra.simulator.cli import main
from qos_infra.simulator.config import ConfigError, SimulationConfig
from qos_infra.simulator.delivery import (
    Batch,
    Clock,
    DeliveryStats,
    HttpSender,
    Progress,
    Reply,
    Sender,
    SystemClock,
    plan_batches,
)
from qos_infra.simulator.incidents import Incident, IncidentError, parse_incident
from qos_infra.simulator.model import DEFAULT_MODEL, Model
from qos_infra.simulator.runner import SimulationResult, simulate
from qos_infra.simulator.truth import (
    compute_truth,
    read_events,
    stored_record,
    stored_records,
    truth_document,
)

__all__ = [
    "DEFAULT_MODEL",
    "Batch",
    "Clock",
    "ConfigError",
    "DeliveryStats",
    "HttpSender",
    "Incident",
    "IncidentError",
    "Model",
    "Progress",
    "Reply",
    "Sender",
    "SessionRecord",
    "Simulation",
    "SimulationConfig",
    "SimulationResult",
    "SystemClock",
    "Viewer",
    "compute_truth",
    "generate",
    "main",
    "parse_incident",
    "plan_batches",
    "read_events",
    "simulate",
    "stored_record",
    "stored_records",
    "truth_document",
]
