"""ChartMogul Activities Export: client, zipped CSV."""
