"""Redis (the cache, the channel layer) may go away, and chat carries on without it: an
outage is logged when it starts and when it ends, not at every request it costs, and a
Redis that stops answering is not waited for by every request."""

import logging
import threading
import time


class Outage:
    """Whether one shared service is failing in this process."""

    def __init__(self, logger: logging.Logger, *, failed: str, back: str):
        self.logger = logger
        self.messages = {True: failed, False: back}
        self.lock = threading.Lock()
        self.down = False

    def _change(self, *, down: bool) -> bool:
        with self.lock:
            changed, self.down = self.down != down, down
        return changed

    def began(self) -> None:
        """The service failed: call it while handling the error, whose trace is logged."""
        if self._change(down=True):
            self.logger.warning(self.messages[True], exc_info=True)

    def ended(self) -> None:
        """The service answered."""
        if self.down and self._change(down=False):
            self.logger.info(self.messages[False])


class Silence:
    """Services that stopped answering (a call timed out: a partition, or a hung server,
    refuses nothing and answers nothing), each called again only `retry_after` seconds
    later: meanwhile the callers go on without it at once, instead of each waiting for
    its timeout. A service is any key naming it (its address, its client)."""

    def __init__(self, retry_after: float):
        self.retry_after = retry_after
        self.until = {}  # service -> when it is called again (monotonic)

    def heard_nothing(self, service) -> None:
        """A call to `service` timed out."""
        self.until[service] = time.monotonic() + self.retry_after

    def silent(self, service) -> bool:
        """Whether to do without `service` for now: it timed out a moment ago."""
        return time.monotonic() < self.until.get(service, 0.0)
