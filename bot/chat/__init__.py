"""The chat port (`base`) and its adapters. Only `slack` knows Slack."""
