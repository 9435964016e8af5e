"""The central service: database, imports, API, event ingest, UI, statistics."""
