"""ChartMogul Activities Export: settings, client, zipped CSV, streams."""
