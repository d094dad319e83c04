"""The web app's routes: the JSON API (``api``), the pages (``pages``), operations (``ops``)."""

__all__: list[str] = []
