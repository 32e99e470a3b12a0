"""SQLAlchemy 2.0 (async) storage: engine, tables, migrations and repositories."""
