"""The HTTP face: JSON API, pages and websockets over the application and the views."""
