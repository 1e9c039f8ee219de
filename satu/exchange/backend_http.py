"""HTTP/1.1 to providers' backends: an httpx transport on an asyncio protocol, parsed by
httptools (llhttp, the parser uvicorn serves Satu with).

Why not httpx's default transport (httpcore + h11): on the gateway's hot path it was the
largest single cost of a call, about a fifth of the gateway's CPU, in pure-Python parsing
(h11), per-request polls of every pooled connection, and anyio locks. This transport keeps
httpx's interface (`httpx.Request` in, `httpx.Response` with a streamed body out, httpx's
exception types) and does the least HTTP/1.1 needs:

- Keep-alive connections per origin (scheme, host, port), newest first; a connection the
  server closed is known at once (asyncio tells the protocol), so nothing is polled. Idle
  connections expire after `keepalive_expiry`; at most `max_keepalive` idle ones per origin.
- At most `max_connections` requests in flight per transport; more wait (the `pool` timeout).
- Connections go only where `connect(host, port)` says (the gateway's SSRF guard gives the
  checked address); TLS verifies the certificate and the host name with the given context.
- Timeouts from the request's `timeout` extension: connect, write, read (each wait for the
  answer's data), pool, raised as httpx's ConnectTimeout, WriteTimeout, ReadTimeout,
  PoolTimeout.
- The request head is checked before it is sent: the method and header names are tokens, no
  CR, LF or NUL in the target or a value (no header injection), and the body goes with a
  `Content-Length` (bodies are read whole first; the gateway's are).
- The answer's head is bounded (`MAX_HEAD_BYTES`, `MAX_HEADER_LINES`); a malformed answer, an
  upgrade or a second answer nobody asked for is a RemoteProtocolError and the connection is
  dropped. Informational (1xx) answers are skipped. An answer to HEAD ends at its head (and its
  connection is not reused). A body without length ends when the server closes.
- Reading pauses while more than `READ_HIGH_WATER` bytes wait unread.
"""

from satu.exchange.backend_connection import MAX_HEAD_BYTES as MAX_HEAD_BYTES
from satu.exchange.backend_connection import MAX_HEADER_LINES as MAX_HEADER_LINES
from satu.exchange.backend_connection import READ_HIGH_WATER as READ_HIGH_WATER
from satu.exchange.backend_connection import _Connection as _Connection
from satu.exchange.backend_transport import _CONTROL as _CONTROL
from satu.exchange.backend_transport import _TOKEN as _TOKEN
from satu.exchange.backend_transport import BackendTransport as BackendTransport
from satu.exchange.backend_transport import Connect as Connect
from satu.exchange.backend_transport import Message as Message
from satu.exchange.backend_transport import Origin as Origin
from satu.exchange.backend_transport import _Body as _Body
from satu.exchange.backend_transport import _timed as _timed
from satu.exchange.backend_transport import message_bytes as message_bytes
from satu.exchange.backend_transport import message_of as message_of
from satu.exchange.backend_transport import origin_of as origin_of
from satu.exchange.backend_transport import request_bytes as request_bytes
