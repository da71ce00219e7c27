"""tap-activities: a Singer tap for bulk activity exports (People.ai and ChartMogul)."""
