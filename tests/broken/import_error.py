"""A module whose import fails: the CLI must say so in one line."""

raise RuntimeError("this module cannot be imported")
