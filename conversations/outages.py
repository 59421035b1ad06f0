"""Redis (the cache, the channel layer) may go away, and chat carries on without it: an
outage is logged when it starts and when it ends, not at every request it costs."""

import logging
import threading


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
