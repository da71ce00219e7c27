"""Moving bytes for both sources: HTTP, parallel downloads, worker processes, spools."""
