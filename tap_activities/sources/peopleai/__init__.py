"""People.ai Raw Activity Data API: client, OAuth tokens."""
