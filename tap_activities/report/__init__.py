"""What a run tells its operator: progress while it runs, a summary and METRIC lines after."""
