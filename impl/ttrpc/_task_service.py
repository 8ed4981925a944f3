"""containerd's task service (v2, and v3 under the same methods): the generated bindings under their public names."""

from __future__ import annotations

from typing import Final

from ._bindings.task_ttrpc import TASK as TASK_SERVICE
from ._bindings.task_ttrpc import TaskClient, TaskMethods
from ._bindings.task_ttrpc import bind_task as bind_task_service
from ._bindings.task_ttrpc import register_task as register_task_service

__all__ = [
    "TASK_SERVICE",
    "TASK_V3_SERVICE_NAME",
    "TaskClient",
    "TaskMethods",
    "bind_task_service",
    "register_task_service",
]

TASK_V3_SERVICE_NAME: Final = "containerd.task.v3.Task"
"""containerd 2.x's name for the same 17 methods and messages:
``register_task_service(server, svc, name=TASK_V3_SERVICE_NAME)``,
``TaskClient(client, service=TASK_V3_SERVICE_NAME)``."""
