"""Django's PostgreSQL backend, where a connection from the pool is waited for while the
database is only busy, and checked on checkout without a round trip.

The pool's `timeout` (DATABASE_POOL_TIMEOUT) then bounds the wait for a database that is
away, which is a 503 soon; while every connection of a full pool is out serving other
requests, a request waits its turn instead (at a thousand requests at once, each on its
own thread, hundreds would otherwise get a 503 from a database that works).
"""

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool, PoolTimeout


def check_connection(connection) -> None:
    """Pass a connection that looks alive; ping one that does not, which fails. An idle
    connection has nothing to read unless the server ended it (a restart,
    `pg_terminate_backend`): its farewell and the end of the stream wait on the socket.
    Pinging every connection instead (the pool's own check) cost each request and each
    database step of a reply a round trip and a transaction."""
    if not connection.closed:
        waiting = select.poll()
        waiting.register(connection.pgconn.socket, select.POLLIN)
        if not waiting.poll(0):
            return
    ConnectionPool.check_connection(connection)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        while True:
            try:
                connection = super().get_new_connection(conn_params)
            except PoolTimeout:
                if not self._pool_busy():
                    raise
                continue
            if self.pool is None:
                return connection
            try:
                check_connection(connection)
            except psycopg.Error:
                # The pool closes a broken connection given back, and opens another.
                self.pool.putconn(connection)
                continue
            return connection

    def _pool_busy(self) -> bool:
        """Whether the pool holds all the connections it may and all of them are out: the
        database answers, it is only serving others."""
        stats = self.pool.get_stats()
        return stats["pool_size"] >= self.pool.max_size and stats["pool_available"] == 0
