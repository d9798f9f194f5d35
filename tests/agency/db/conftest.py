from tests.support.db_fixtures import db_url, pg_sessions, pg_url, reader, sessions, sqlite_url

__all__ = ["db_url", "pg_sessions", "pg_url", "reader", "sessions", "sqlite_url"]
