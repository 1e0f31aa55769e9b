"""Operating the portal: backups, their restore and the restore drill's check (``flask portal backup ...``)."""
