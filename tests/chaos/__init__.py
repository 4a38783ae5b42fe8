"""Fault injection under load (`make chaos`; a short version runs in `make test`)."""
