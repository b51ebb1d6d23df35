"""A paho-mqtt client driven by the running asyncio event loop (paho's socket callbacks, the
pattern of paho's own asyncio example), with reconnection after a jittered, growing delay
(:class:`~ven_edge.oadr3.backoff.DecorrelatedBackoff`).

paho's own network thread (``loop_start``) waits with ``select()``, which fails for a socket whose
descriptor is above 1023: a vtn_lite serving thousands of HTTP connections could then never
reconnect its publisher. Here the event loop's selector (epoll) watches the socket, callbacks run
in the event loop, and no thread is kept. Only the blocking TCP and TLS connect runs in the
default executor. paho is imported by :func:`new_client` when it is called, not with this module.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ven_edge.oadr3.backoff import DecorrelatedBackoff

if TYPE_CHECKING:
    import paho.mqtt.client as paho

LOG = logging.getLogger(__name__)

#: paho's keepalive and retry bookkeeping (loop_misc) wants a call about once a second.
MISC_INTERVAL_S = 1.0


def new_client(
    *,
    username: str | None,
    password: str | None,
    tls: bool,
    ca_file: str | None,
    client_id: str = "",
    cert_file: str | None = None,
    key_file: str | None = None,
) -> paho.Client:
    """An MQTT 3.1.1 client (the version the Definition requires brokers to speak); with
    ``tls`` verified against ``ca_file`` or the system's CAs, TLS 1.2 or later (Definition
    "HTTPS/TLS"), presenting the client certificate ``cert_file`` (key ``key_file``) when given
    (the 3.1.0 binding's CERTIFICATE method). Raises :class:`ssl.SSLError` or :class:`OSError`
    for files that cannot be loaded."""
    import paho.mqtt.client as paho_client
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho_client.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho_client.MQTTv311
    )
    if username is not None:
        client.username_pw_set(username, password)
    if tls:
        context = ssl.create_default_context(cafile=ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if cert_file is not None:
            context.load_cert_chain(cert_file, key_file)
        client.tls_set_context(context)
    elif cert_file is not None:
        raise ValueError("a client certificate is only ever sent over TLS (mqtts)")
    return client


class LoopDriver:
    """Keeps ``client`` connected to ``host``:``port`` until :meth:`stop`."""

    def __init__(
        self,
        client: paho.Client,
        host: str,
        port: int,
        *,
        min_delay_s: float = 1.0,
        max_delay_s: float = 120.0,
        keepalive_s: int = 60,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self._host = host
        self._port = port
        # Jittered: after a broker restart every client lost it at the same instant, and equal
        # delays would bring them all back at the same instant again.
        self.backoff = DecorrelatedBackoff(min_delay_s, max_delay_s, rand=rand)
        self._sleep = sleep
        self._keepalive = keepalive_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed: asyncio.Event | None = None
        # The descriptor watched, kept as a number: paho may have closed the socket by the time
        # the event loop hears of it.
        self._fd: int | None = None
        self._failing: str | None = None
        #: Told of each failed connect (in the event loop), e.g. for the status page.
        self.on_connect_failed: Callable[[BaseException], None] | None = None
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._want_write
        client.on_socket_unregister_write = self._no_write

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run())

    def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        if self.client.socket() is not None:
            self.client.disconnect()
            self.client.loop_write()  # sends DISCONNECT; paho then closes the socket
        self._forget()

    async def _run(self) -> None:
        assert self._loop is not None
        first = True
        while True:
            self._closed = asyncio.Event()
            try:
                if first:
                    await self._loop.run_in_executor(
                        None, self.client.connect, self._host, self._port, self._keepalive
                    )
                else:
                    await self._loop.run_in_executor(None, self.client.reconnect)
            except (OSError, ssl.SSLError, ValueError) as exc:
                # Said once per distinct reason; the retries repeat it at DEBUG.
                level = logging.DEBUG if str(exc) == self._failing else logging.WARNING
                LOG.log(level, "MQTT connect to %s:%d failed: %s", self._host, self._port, exc)
                self._failing = str(exc)
                if self.on_connect_failed is not None:
                    self.on_connect_failed(exc)
            else:
                self._failing = None
                first = False
                lived = await self._serve()
                if lived:
                    self.backoff.reset()
            await self._sleep(self.backoff.next_delay())

    async def _serve(self) -> bool:
        """Run paho's periodic work until the socket closes; True if it was up a while."""
        assert self._closed is not None
        assert self._loop is not None
        started = self._loop.time()
        while not self._closed.is_set():
            try:
                await asyncio.wait_for(self._closed.wait(), MISC_INTERVAL_S)
            except TimeoutError:
                self.client.loop_misc()
        return self._loop.time() - started > self.backoff.cap

    # -- paho's socket callbacks (socket_open runs in the executor, during connect) ----------
    def _in_loop(self, callback: Any, *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            callback(*args)
        else:
            loop.call_soon_threadsafe(callback, *args)

    def _socket_open(self, client: Any, userdata: Any, sock: Any) -> None:
        self._in_loop(self._watch, sock)

    def _watch(self, sock: Any) -> None:
        assert self._loop is not None
        self._forget()
        self._fd = sock.fileno()
        self._loop.add_reader(self._fd, self._readable, sock)

    def _readable(self, sock: Any) -> None:
        self.client.loop_read()
        # Records TLS has decrypted already do not wake the selector again.
        if not isinstance(sock, ssl.SSLSocket):
            return
        tls: ssl.SSLSocket = sock
        while tls.pending() and self.client.socket() is not None:
            self.client.loop_read()

    def _socket_close(self, client: Any, userdata: Any, sock: Any) -> None:
        self._in_loop(self._closed_socket)

    def _closed_socket(self) -> None:
        self._forget()
        if self._closed is not None:
            self._closed.set()

    def _forget(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(fd)
            self._loop.remove_writer(fd)

    def _want_write(self, client: Any, userdata: Any, sock: Any) -> None:
        self._in_loop(self._add_writer, sock)

    def _add_writer(self, sock: Any) -> None:
        if self._loop is not None and self._fd is not None and sock.fileno() == self._fd:
            self._loop.add_writer(self._fd, self.client.loop_write)

    def _no_write(self, client: Any, userdata: Any, sock: Any) -> None:
        self._in_loop(self._remove_writer)

    def _remove_writer(self) -> None:
        if self._loop is not None and self._fd is not None:
            self._loop.remove_writer(self._fd)
