"""Watching warroom itself: its metrics and its logs."""
