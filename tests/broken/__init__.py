"""Deliberately broken ``forget`` implementations, one bug each (see ``variants``)."""
