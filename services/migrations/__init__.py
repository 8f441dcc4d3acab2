"""Alembic migrations; `services.migrations.runner.upgrade` applies them."""
