"""The export-job engine both sources share: the source contract, windows, jobs, scheduler."""
