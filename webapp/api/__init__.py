"""JSON routes and pages of the Mini App, one module per area (dialogs, dashboard, spend, traffic, ...).

Each module exposes `routes` (an aiohttp RouteTableDef) and `PAGES` (list of webapp.pages.Page); webapp/server.py
lists the modules in AREAS. Handlers are thin: check the caller (`async with signed_in(request, Permission.X) as
(session, member)`), parse the query, call a core service, answer JSON without the fields the role hides.
"""
