"""What finance receives: payout batch folders, payment rail files, statements, review holds."""
