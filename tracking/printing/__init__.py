"""Printed matter: QR posters for the entry points (SVG and A4 PDF)."""
