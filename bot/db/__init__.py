"""The database: engine and sessions, the declarative base, SQLite's write gate and WAL, migrations."""
