"""The bottom layer: channel- and database-neutral value types and pure helpers.

Every other package may import `core`; `core` imports none of them, only the standard library
and small pure libraries (babel, structlog). The `layers` contract in pyproject.toml checks it:
bot > handlers > scheduler > storage > core.
"""
