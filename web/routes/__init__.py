"""API routers, one module per resource (FastAPI's "bigger applications" layout)."""
