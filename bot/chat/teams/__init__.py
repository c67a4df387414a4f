"""Microsoft Teams: the Bot Framework tokens checked and fetched, our messages as Adaptive
Cards, the Bot Connector REST calls. The core never imports this package."""
