"""The web front end and JSON API: `create_app(db_path)` in app.py, every route in routes.py."""
