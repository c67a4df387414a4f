"""Alerts in: normalised alert batches routed, grouped and coalesced into incidents."""
