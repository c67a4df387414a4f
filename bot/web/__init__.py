"""The web view (/web): open and resolved incidents, one incident's page, the response
statistics as SVG charts; signed in with the web token or through an authenticating
proxy, private incidents shown only to their people."""

from bot.web.routes import add_web_routes

__all__ = ["add_web_routes"]
