"""The site: settings, URLs and the ASGI application, the one way in. No logic lives here."""
