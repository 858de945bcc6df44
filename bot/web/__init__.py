"""The web layer: aiohttp-jinja2 set-up and error pages (the desk's pages come next)."""
