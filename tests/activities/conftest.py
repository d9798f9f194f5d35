from tests.support.db_fixtures import db_url, pg_url, sessions, sqlite_url

__all__ = ["db_url", "pg_url", "sessions", "sqlite_url"]
