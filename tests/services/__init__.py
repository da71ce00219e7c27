"""Tests against other services: S3, Snowflake, Airflow, third-party Singer consumers."""
