"""People.ai Raw Activity Data API: settings, client, OAuth tokens, fragments, line pass."""
