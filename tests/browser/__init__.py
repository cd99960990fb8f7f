"""Browser tests: the viewer page in Debian's Chromium, driven by Playwright's sync API, against
real broker, bridge and web app processes (the web app in development mode, for its sign-in).

What belongs here: what a viewer or a moderator sees and does on the page — comments appearing,
replies, reactions, reconnects and gap repair, failover between broker URLs, the layout on a
phone, moderation tools. The page's routes without a browser (CSP, static files, the dev token)
are app tests (tests/app/test_page_routes.py); its pure modules are run by `node --test
webapp/static/tests/`. One Chromium serves the whole run; every test has fresh contexts.
"""
