"""A loopback TCP proxy whose line can be cut or silenced, to take a real server away
from the app."""

import asyncio


class CuttableProxy:
    """Forwards 127.0.0.1:`port` to `target`; `cut()` drops every link and refuses new
    ones, `silence()` holds whatever either side sends, on old links and new (a network
    partition: nothing refused, nothing answered), until `restore()`."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.writers = set()
        self.refusing = False
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.server = None
        self.port = None

    async def start(self) -> "CuttableProxy":
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _pipe(self, reader, writer):
        try:
            while data := await reader.read(65536):
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()

    async def _accept(self, reader, writer):
        if self.refusing:
            writer.transport.abort()
            return
        await self.flowing.wait()
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self.writers.update((writer, upstream_writer))
        await asyncio.gather(
            self._pipe(reader, upstream_writer),
            self._pipe(upstream_reader, writer),
            return_exceptions=True,
        )
        self.writers.difference_update((writer, upstream_writer))

    def cut(self) -> None:
        self.refusing = True
        for writer in list(self.writers):
            writer.transport.abort()

    def silence(self) -> None:
        self.flowing.clear()

    def restore(self) -> None:
        self.refusing = False
        self.flowing.set()

    async def close(self) -> None:
        self.cut()
        self.server.close()
        await self.server.wait_closed()
