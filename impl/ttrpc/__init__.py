"""impl.ttrpc: a ttrpc server and client speaking Go ttrpc's wire format (1.1 and 1.2 streams).

Layers: a sans-IO core in ``impl.ttrpc.lowlevel`` (``ServerConnection``/
``ClientConnection``: bytes in, events out), a thin asyncio layer (``Server``/
``Client`` over unix sockets, ``StreamMethod``/``ClientStream`` for ttrpc 1.2
streams), and a typed layer (method specs, handler wrappers, ``bind_task_service``,
``TaskClient``). The low-level names stay importable from here too.
"""

from __future__ import annotations

from ._client import Client as Client, Metadata as Metadata
from ._codes import Code as Code
from ._connection import ClientConnection as ClientConnection, ServerConnection as ServerConnection
from ._context import MethodContext as MethodContext
from ._errors import (
    ClosedError as ClosedError,
    LocalProtocolError as LocalProtocolError,
    MessageTooLargeError as MessageTooLargeError,
    ProtocolError as ProtocolError,
    RemoteProtocolError as RemoteProtocolError,
    TTRPCError as TTRPCError,
)
from ._events import (
    BadRequest as BadRequest,
    BadResponse as BadResponse,
    DataReceived as DataReceived,
    Event as Event,
    FrameIgnored as FrameIgnored,
    MessageTooLarge as MessageTooLarge,
    RequestReceived as RequestReceived,
    ResponseReceived as ResponseReceived,
    Status as Status,
)
from ._events_service import (
    EVENTS_SERVICE as EVENTS_SERVICE,
    EventsClient as EventsClient,
    EventsMethods as EventsMethods,
    EventsService as EventsService,
    bind_events_service as bind_events_service,
    register_events_service as register_events_service,
)
from ._frame import (
    FLAG_NO_DATA as FLAG_NO_DATA,
    FLAG_REMOTE_CLOSED as FLAG_REMOTE_CLOSED,
    FLAG_REMOTE_OPEN as FLAG_REMOTE_OPEN,
    HEADER_SIZE as HEADER_SIZE,
    MAX_MESSAGE as MAX_MESSAGE,
    MessageType as MessageType,
)
from ._server import Server as Server
from ._spec import (
    MethodSpec as MethodSpec,
    ServiceSpec as ServiceSpec,
    TypedStream as TypedStream,
    bidi_stream_handler as bidi_stream_handler,
    call_unary as call_unary,
    client_stream_handler as client_stream_handler,
    open_bidi_stream as open_bidi_stream,
    open_client_stream as open_client_stream,
    open_server_stream as open_server_stream,
    server_stream_handler as server_stream_handler,
    unary_handler as unary_handler,
    unary_handler_with_context as unary_handler_with_context,
)
from ._stream import (
    CONNECTION_BUFFER as CONNECTION_BUFFER,
    STREAM_BUFFER as STREAM_BUFFER,
    ClientStream as ClientStream,
    ServerStream as ServerStream,
    StreamClosedError as StreamClosedError,
    StreamHandler as StreamHandler,
    StreamMethod as StreamMethod,
)
from ._task_service import (
    TASK_SERVICE as TASK_SERVICE,
    TASK_V3_SERVICE_NAME as TASK_V3_SERVICE_NAME,
    TaskClient as TaskClient,
    TaskMethods as TaskMethods,
    bind_task_service as bind_task_service,
    register_task_service as register_task_service,
)
from ._unix import (
    require_root as require_root,
    require_same_user as require_same_user,
    require_uid_gid as require_uid_gid,
)
from ._public import public_module

__all__ = [
    "CONNECTION_BUFFER",
    "EVENTS_SERVICE",
    "STREAM_BUFFER",
    "TASK_SERVICE",
    "TASK_V3_SERVICE_NAME",
    "Client",
    "ClientStream",
    "ClosedError",
    "Code",
    "EventsClient",
    "EventsMethods",
    "EventsService",
    "LocalProtocolError",
    "MessageTooLargeError",
    "Metadata",
    "MethodContext",
    "MethodSpec",
    "ProtocolError",
    "RemoteProtocolError",
    "Server",
    "ServerStream",
    "ServiceSpec",
    "StreamClosedError",
    "StreamHandler",
    "StreamMethod",
    "TTRPCError",
    "TaskClient",
    "TaskMethods",
    "TypedStream",
    "bidi_stream_handler",
    "bind_events_service",
    "bind_task_service",
    "call_unary",
    "client_stream_handler",
    "open_bidi_stream",
    "open_client_stream",
    "open_server_stream",
    "register_events_service",
    "register_task_service",
    "require_root",
    "require_same_user",
    "require_uid_gid",
    "server_stream_handler",
    "unary_handler",
    "unary_handler_with_context",
]

public_module(globals(), __name__)
