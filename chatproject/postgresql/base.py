"""Django's PostgreSQL backend, where a connection from the pool is waited for while the
database is only busy.

The pool's `timeout` (DATABASE_POOL_TIMEOUT) then bounds the wait for a database that is
away, which is a 503 soon; while every connection of a full pool is out serving other
requests, a request waits its turn instead (at a thousand requests at once, each on its
own thread, hundreds would otherwise get a 503 from a database that works).
"""

from django.db.backends.postgresql import base
from psycopg_pool import PoolTimeout


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        while True:
            try:
                return super().get_new_connection(conn_params)
            except PoolTimeout:
                if not self._pool_busy():
                    raise

    def _pool_busy(self) -> bool:
        """Whether the pool holds all the connections it may and all of them are out: the
        database answers, it is only serving others."""
        stats = self.pool.get_stats()
        return stats["pool_size"] >= self.pool.max_size and stats["pool_available"] == 0
