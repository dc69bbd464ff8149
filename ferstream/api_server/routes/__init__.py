"""One router per resource, each mounted by ``app.create_app``."""
