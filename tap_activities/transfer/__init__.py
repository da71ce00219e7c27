"""Moving bytes: HTTP, parallel downloads, worker processes, spooled output."""
