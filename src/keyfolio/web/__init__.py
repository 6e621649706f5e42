"""The web dashboard: Jinja templates and static files on the JSON API."""

__all__: list[str] = []
