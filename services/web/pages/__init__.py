"""The web interface in Russian: server-rendered pages over the same use cases as the API.

Every page calls the functions in ``services.*`` that the JSON API calls (no
second path to the data); sign-in, sessions and CSRF come from
``services.web.session``. Pages need no front-end build: Jinja2 templates, one
stylesheet, one small script, and charts drawn on the server as inline SVG, so
the whole interface works under ``Content-Security-Policy: default-src 'self'``.
"""
