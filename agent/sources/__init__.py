"""Device sources: one driver per protocol behind one small interface."""

__all__: list[str] = []
