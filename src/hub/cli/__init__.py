"""The hub commands: serve, migrate, users and keys, audit, and declaration import."""
