"""Inbound adapters: each module registers its listeners on a Bolt app with `register()`."""
