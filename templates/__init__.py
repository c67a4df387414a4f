"""Every text warroom writes, as Markdown templates (Jinja2).

This folder is installed as the package `bot.templates` (see pyproject.toml), so that an
installed warroom finds its templates with importlib.resources wherever it runs.
"""
