"""A simulated Hugging Face Hub audit-log export, for tests and demos of the poller."""

from .events import EVENT_TYPES, generate_events, make_event
from .server import Fault, RecordedRequest, SimulatedHub

__all__ = ["EVENT_TYPES", "Fault", "RecordedRequest", "SimulatedHub", "generate_events", "make_event"]
