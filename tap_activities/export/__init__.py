"""The export-job engine both sources share: windows, jobs and their scheduler."""
