"""The public status page: components named by incidents, public updates, and the pages
(`/status`, `/status.json`, `/status.atom`) that show them to anyone, without a login."""
