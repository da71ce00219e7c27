"""Pipeline tests: meltano runs and loaders, into PostgreSQL."""
