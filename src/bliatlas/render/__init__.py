"""What both the atlas pages and the reports draw: SVG charts, the choropleth map with its
class breaks, the projected geometry, and the figures both show (the settlement funnel and
IMDi grants by type), computed once here from the cube and the store.

A layer above ``indicators``, ``regions`` and ``knowledge`` and below ``web``, ``reports``
and ``api``: it never imports those.
"""
