"""The web atlas: server-rendered pages with inline SVG maps and charts (see ``pages``)."""

from pathlib import Path

STATIC_DIR = Path(__file__).with_name("static")
