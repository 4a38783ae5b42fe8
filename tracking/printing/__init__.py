"""Printed matter: QR posters for the entry points, run manifests and hotel door labels (A4 PDF
through WeasyPrint, with the CJK font embedded)."""
