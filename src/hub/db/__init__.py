"""The hub database: engine, table models, migrations."""
